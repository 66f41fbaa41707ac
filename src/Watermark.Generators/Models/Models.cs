namespace Watermark.Generators.Models;

/// <summary>One declaration around the marked member: <c>class Block</c>, <c>record struct Pair&lt;out T&gt;</c>.</summary>
internal readonly record struct TypeDeclarationInfo(string Keyword, string NameWithTypeParameters);

/// <summary>
/// Where a marked type sits and how it is generated: a hint-name stem, namespace (empty for the global
/// one), its <c>global::</c> name, its declarations outermost first, whether it is sealed, its nearest marked
/// base (<c>global::</c> name, or null) and the interface members it implements explicitly because the user's clash.
/// </summary>
internal sealed record HierarchyInfo(
    string FileName,
    string Namespace,
    string FullName,
    EquatableArray<TypeDeclarationInfo> Types,
    bool Sealed,
    string? MarkedBase,
    EquatableArray<string> ExplicitMembers);

/// <summary>A [Watermark] as declared: the member (as named and as written in C#), T, and the key kind and λ as C# expressions.</summary>
internal readonly record struct SlotInfo(string Member, string Identifier, int Bits, string KeyKind, string Strength);

/// <summary>A marked member with its containing type; <paramref name="Error"/> when describing it failed.</summary>
internal sealed record MarkedMember(HierarchyInfo Type, SlotInfo Slot, string? Error = null);

/// <summary>A containing type and all its marked members: one generated file.</summary>
internal sealed record MarkedType(string HintName, HierarchyInfo Type, EquatableArray<SlotInfo> Slots, string? Error);
