namespace Watermark.Training;

/// <summary>What one epoch did; the rows of a results file and of Fig. 1.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="LearningRate">Learning rate during the epoch.</param>
/// <param name="TrainLoss">Mean task loss over the epoch's batches (cross-entropy or the trainer's TaskLoss, or the distillation loss).</param>
/// <param name="TrainError">Fraction of training examples misclassified during the epoch (NaN when distilling or when targets are not class indices).</param>
/// <param name="EmbeddingLoss">Σ E_R over the slots at the epoch's end (without λ); NaN without a watermark.</param>
/// <param name="BitErrorRate">Combined BER at the epoch's end; NaN without a watermark.</param>
/// <param name="PValueLog10">log₁₀ of the combined p-value at the epoch's end; NaN without a watermark.</param>
/// <param name="TestError">Test error at the epoch's end; NaN without a test set.</param>
/// <param name="Seconds">Wall time of the epoch's training (without evaluation).</param>
/// <param name="ImagesPerSecond">Training throughput in examples (images) per second.</param>
/// <param name="ResidentMegabytes">The process's resident memory (managed and native) at the epoch's end, after a full garbage collection and the trainer's EpochEnding callback: what the model, optimiser and data hold between epochs; in MiB; 0 in results written before it was recorded.</param>
/// <param name="ManagedMegabytes">Of that, the memory the .NET garbage collector had committed after its last collection, in MiB; 0 in results written before it was recorded.</param>
/// <param name="PeakResidentMegabytes">The process's peak resident memory so far (.NET's PeakWorkingSet64: Linux's VmHWM), in MiB. It covers the epoch alone when the peak is reset at its start, as the WideResNet sample does from EpochStarting; 0 in results written before it was recorded.</param>
public sealed record EpochMetrics(
    int Epoch,
    double LearningRate,
    double TrainLoss,
    double TrainError,
    double EmbeddingLoss,
    double BitErrorRate,
    double PValueLog10,
    double TestError,
    double Seconds,
    double ImagesPerSecond,
    double ResidentMegabytes = 0,
    double ManagedMegabytes = 0,
    double PeakResidentMegabytes = 0);
