namespace Watermark.Training;

/// <summary>What one epoch did; the rows of a results file and of Fig. 1.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="LearningRate">Learning rate during the epoch.</param>
/// <param name="TrainLoss">Mean task loss over the epoch's batches (cross-entropy, or distillation loss).</param>
/// <param name="TrainError">Fraction of training images misclassified during the epoch (against labels; NaN when distilling).</param>
/// <param name="EmbeddingLoss">Σ E_R over the slots at the epoch's end (without λ); NaN without a watermark.</param>
/// <param name="BitErrorRate">Combined BER at the epoch's end; NaN without a watermark.</param>
/// <param name="PValueLog10">log₁₀ of the combined p-value at the epoch's end; NaN without a watermark.</param>
/// <param name="TestError">Test error at the epoch's end; NaN without a test set.</param>
/// <param name="Seconds">Wall time of the epoch's training (without evaluation).</param>
/// <param name="ImagesPerSecond">Training throughput.</param>
/// <param name="ResidentMegabytes">The process's resident memory (managed and native) at the epoch's end, after a full garbage collection and, where <see cref="TrainingOptions.KeepNativeMemory"/> is on, <see cref="NativeAllocator.ReleaseFreeMemory"/>: what the model, optimiser and data hold between epochs; in MiB; 0 in results written before it was recorded.</param>
/// <param name="ManagedMegabytes">Of that, the memory the .NET garbage collector had committed after its last collection, in MiB; 0 in results written before it was recorded.</param>
/// <param name="PeakResidentMegabytes">The highest resident memory during the epoch (training and evaluation), in MiB: Linux's VmHWM, which the trainer resets at each epoch's start; 0 on other systems and in results written before it was recorded.</param>
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
