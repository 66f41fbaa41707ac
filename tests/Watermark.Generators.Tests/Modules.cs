using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Watermark.Generators.Tests;

// Annotated modules compiled with the real generator: the tests below call what it generated.

/// <summary>A pre-activation block as in the paper's WRN: the second conv carries the mark.</summary>
public sealed partial class Block : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;

    [Watermark(Bits = 64, Key = KeyKind.Random)]
    private readonly Conv2d conv2;

    public Block(long channels)
        : base(nameof(Block))
    {
        conv1 = nn.Conv2d(channels, channels, 3, padding: 1);
        conv2 = nn.Conv2d(channels, channels, 3, padding: 1);
        RegisterComponents();
    }

    public Conv2d Host => conv2;

    public override Tensor forward(Tensor input) =>
        conv2.forward(nn.functional.relu(conv1.forward(nn.functional.relu(input)))).add(input);
}

/// <summary>A small network around two blocks; it marks its head too, with a diff key and its own λ.</summary>
public sealed partial class TinyNet : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d stem;
    private readonly Block block0;
    private readonly Block block1;

    [Watermark(Bits = 8, Key = KeyKind.Diff, Strength = 0.05)]
    private readonly Linear head;

    public TinyNet()
        : base(nameof(TinyNet))
    {
        stem = nn.Conv2d(3, 16, 3, padding: 1);
        block0 = new Block(16);
        block1 = new Block(16);
        head = nn.Linear(16, 4);
        RegisterComponents();
    }

    public Block Second => block1;

    public override Tensor forward(Tensor input)
    {
        var features = block1.forward(block0.forward(stem.forward(input)));
        return head.forward(features.mean([2, 3]));
    }
}

/// <summary>A nested, generic containing type: the generator repeats the hierarchy.</summary>
public static partial class Outer<TTag>
{
    public sealed partial class Inner : nn.Module<Tensor, Tensor>
    {
        public Inner()
            : base(nameof(Inner))
        {
            Layer = nn.Linear(32, 2);
            RegisterComponents();
        }

        [Watermark(Bits = 16, Key = KeyKind.Direct)]
        public Linear Layer { get; }

        public override Tensor forward(Tensor input) => Layer.forward(input);
    }
}

/// <summary>A marked base module: its mark must survive a derived module's own marks.</summary>
public partial class BaseNet : nn.Module<Tensor, Tensor>
{
    // Created in an initializer, before any constructor runs, so a derived constructor's RegisterComponents() sees it.
    [Watermark(Bits = 8, Key = KeyKind.Direct)]
    private readonly Linear trunk = nn.Linear(32, 16);

    protected BaseNet(string name)
        : base(name)
    {
    }

    public BaseNet()
        : this(nameof(BaseNet)) => RegisterComponents();

    public override Tensor forward(Tensor input) => trunk.forward(input);
}

/// <summary>Derives from a marked module and marks a layer of its own.</summary>
public sealed partial class DerivedNet : BaseNet
{
    [Watermark(Bits = 4)]
    private readonly Linear head = nn.Linear(16, 8);

    public DerivedNet()
        : base(nameof(DerivedNet)) => RegisterComponents();

    public override Tensor forward(Tensor input) => head.forward(base.forward(input));
}

/// <summary>Defaults only, and an auto-property marked through its backing field.</summary>
public sealed partial class Defaults : nn.Module<Tensor, Tensor>
{
    [Watermark(Bits = 8)]
    private readonly Linear plain = nn.Linear(32, 16);

    public Defaults()
        : base(nameof(Defaults)) => RegisterComponents();

    [field: Watermark(Bits = 4, Key = KeyKind.Diff)]
    public Linear Head { get; } = nn.Linear(16, 8);

    // TorchSharp's ComponentName on the backing field gives the state_dict (and the slot) a plain name.
    [field: Watermark(Bits = 4)]
    [field: TorchSharp.Utils.ComponentName(Name = "tail")]
    public Linear Tail { get; } = nn.Linear(16, 8);

    public override Tensor forward(Tensor input) => Head.forward(plain.forward(input));
}
