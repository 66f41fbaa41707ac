namespace Watermark.Generators.Models;

/// <summary>One declaration around the marked member: <c>class Block</c>, <c>record struct Pair&lt;T&gt;</c>.</summary>
internal readonly record struct TypeDeclarationInfo(string Keyword, string NameWithTypeParameters);

/// <summary>Where a marked type sits: its file name, namespace (empty for the global one) and declarations, outermost first.</summary>
internal sealed record HierarchyInfo(string FileName, string Namespace, EquatableArray<TypeDeclarationInfo> Types);

/// <summary>A [Watermark] as declared: the member and the attribute's T, key kind and λ.</summary>
internal readonly record struct SlotInfo(string Member, int Bits, int KeyKind, double Strength);

/// <summary>A marked member with its containing type.</summary>
internal sealed record MarkedMember(HierarchyInfo Type, SlotInfo Slot);

/// <summary>A containing type and all its marked members: one generated file.</summary>
internal sealed record MarkedType(HierarchyInfo Type, EquatableArray<SlotInfo> Slots);
