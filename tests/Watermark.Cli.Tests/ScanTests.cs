using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text.Json;
using NJsonSchema;
using Watermark.Formats;
using Watermark.Tests;
using Xunit;

namespace Watermark.Cli.Tests;

/// <summary>
/// <c>watermark scan</c> over folders of the trained fixture models in every format (a checkpoint torch.save wrote too, with the marked host patched in):
/// exit codes 0/1/2/3, JSON Lines, SARIF against the OASIS schema, shards, order under --jobs, and attestations.
/// Folders are made under the current folder so that reported paths are relative, as in a CI checkout.
/// </summary>
[Collection(TrainedModelsGroup.Name)]
public sealed class ScanTests(TrainedModels models) : IDisposable
{
    private readonly List<string> folders = [];

    private static string Relative(string full) => Path.GetRelativePath(Directory.GetCurrentDirectory(), full).Replace('\\', '/');

    private string NewFolder()
    {
        var folder = Path.Combine(Directory.GetCurrentDirectory(), $"scan-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        folders.Add(folder);
        return folder;
    }

    // The marked model as .dat, .safetensors, .onnx and a PyTorch checkpoint (twolayers.pt with the marked host patched in), in nested folders.
    private string MarkedFolder()
    {
        var folder = NewFolder();
        Directory.CreateDirectory(Path.Combine(folder, "onnx"));
        Directory.CreateDirectory(Path.Combine(folder, "torch", "deep"));
        File.Copy(models.MarkedDat, Path.Combine(folder, "marked.dat"));
        File.Copy(models.MarkedSafetensors, Path.Combine(folder, "marked.safetensors"));
        File.Copy(models.MarkedOnnx, Path.Combine(folder, "onnx", "marked.onnx"));
        var checkpoint = ModelFile.Open(PyTorchCheckpointTests.Fixture("twolayers.pt"));
        checkpoint.WriteWithReplaced(Path.Combine(folder, "torch", "deep", "marked.pt"), checkpoint.Find(TrainedModels.Host), models.MarkedHost);
        File.WriteAllText(Path.Combine(folder, "README.md"), "not a model");
        File.WriteAllText(Path.Combine(folder, "config.json"), "{}");
        return folder;
    }

    private static List<JsonElement> Lines(string jsonLines) =>
        [.. jsonLines.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone())];

    [Fact]
    public void AFolderOfMarkedModelsInEveryFormatIsPresent()
    {
        var folder = MarkedFolder();
        var run = CliRunner.Run("scan", folder, "--key", models.OwnerKey);
        Assert.True(run.Code == ExitCodes.Present, run.ToString());
        var lines = Lines(run.Out);
        var rel = Relative(folder);
        Assert.Equal([$"{rel}/marked.dat", $"{rel}/marked.safetensors", $"{rel}/onnx/marked.onnx", $"{rel}/torch/deep/marked.pt"], lines.Select(l => l.GetProperty("path").GetString()));
        Assert.Equal(["dat", "safetensors", "onnx", "pytorch"], lines.Select(l => l.GetProperty("format").GetString()));
        foreach (var line in lines)
        {
            Assert.Equal("present", line.GetProperty("status").GetString());
            Assert.Equal(64, line.GetProperty("matched").GetInt32());
            Assert.Equal(1e-6, line.GetProperty("alpha").GetDouble());
            Assert.Equal(TrainedModels.Host, line.GetProperty("slots")[0].GetProperty("name").GetString());
            var bytes = File.ReadAllBytes(line.GetProperty("path").GetString()!);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), line.GetProperty("sha256").GetString());
            Assert.Equal(bytes.Length, line.GetProperty("size").GetInt64());
        }

        Assert.Contains("scanned 4 model files", run.Err, StringComparison.Ordinal);
        Assert.Contains("4 present, 0 absent, 0 unusable", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AModelInSeveralFilesIsOneModelWithADigestPerFile()
    {
        var folder = NewFolder();
        var marked = ModelFile.Open(models.MarkedDat).ReadAll();
        var sharded = MultiPartModels.WriteSharded(MultiPartModels.NewFolder(folder), marked, shards: 3);
        var onnx = MultiPartModels.WriteExternalOnnx(MultiPartModels.NewFolder(folder), ModelFile.Open(models.CleanDat).ReadAll(), oneFile: false);
        var run = CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--sarif", Path.Combine(folder, "scan.sarif"));
        // The shards and the data files are parts of the two models, not models of their own.
        Assert.True(run.Code == ExitCodes.Absent, run.ToString());
        var lines = Lines(run.Out);
        Assert.Equal(new[] { Relative(sharded), Relative(onnx) }.Order(StringComparer.Ordinal), lines.Select(l => l.GetProperty("path").GetString()).Order(StringComparer.Ordinal));
        var byPath = lines.ToDictionary(l => l.GetProperty("path").GetString()!, l => l);
        Assert.Equal("present", byPath[Relative(sharded)].GetProperty("status").GetString());
        Assert.Equal("safetensors", byPath[Relative(sharded)].GetProperty("format").GetString());
        Assert.Equal("absent", byPath[Relative(onnx)].GetProperty("status").GetString());
        Assert.Contains("scanned 2 model files", run.Err, StringComparison.Ordinal);

        // Every part is an artifact with its own digest, so a signature over the report covers the bytes that were read.
        using var sarif = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "scan.sarif")));
        var artifacts = sarif.RootElement.GetProperty("runs")[0].GetProperty("artifacts").EnumerateArray().ToList();
        var parts = ModelFile.Open(sharded).Parts.Concat(ModelFile.Open(onnx).Parts).ToList();
        Assert.Equal(parts.Count, artifacts.Count);
        foreach (var part in parts)
        {
            var artifact = Assert.Single(artifacts, a => a.GetProperty("location").GetProperty("uri").GetString() == Relative(part));
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(part))), artifact.GetProperty("hashes").GetProperty("sha-256").GetString());
        }

        // The attestation's subjects are the index and its three shards.
        var attestations = Path.Combine(folder, "attestations");
        Assert.Equal(ExitCodes.Present, CliRunner.Run("scan", sharded, "--key", models.OwnerKey, "--attestations", attestations).Code);
        using (var statement = JsonDocument.Parse(File.ReadAllText(Assert.Single(Directory.GetFiles(attestations)))))
        {
            var subjects = statement.RootElement.GetProperty("subject").EnumerateArray().Select(e => e.GetProperty("digest").GetProperty("sha256").GetString()).ToList();
            Assert.Equal(ModelFile.Open(sharded).Parts.Select(p => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(p)))), subjects);
        }

        // A shard named on its own is checked as the one-file model it also is: it holds only some of the tensors.
        var shard = Path.Combine(Path.GetDirectoryName(sharded)!, MultiPartModels.ShardName(0, 3));
        Assert.Single(Lines(CliRunner.Run("scan", shard, "--key", models.OwnerKey).Out));
    }

    [Fact]
    public void WithoutDigestsAnUnusableFileStillReportsItsSize()
    {
        // Without hashing, a model's lengths come from opening it; one that cannot be opened is measured on its own.
        var folder = MarkedFolder();
        File.WriteAllBytes(Path.Combine(folder, "broken.safetensors"), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        var run = CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--no-digest");
        Assert.Equal(ExitCodes.Unusable, run.Code);
        var broken = Lines(run.Out).Single(l => l.GetProperty("path").GetString()!.EndsWith("broken.safetensors", StringComparison.Ordinal));
        Assert.Equal("unusable", broken.GetProperty("status").GetString());
        Assert.Equal(11, broken.GetProperty("size").GetInt64());
        Assert.All(Lines(run.Out), l => Assert.True(l.GetProperty("size").GetInt64() > 0));
    }

    [Fact]
    public void WithoutDigestsTheVerdictsAreTheSameAndNothingClaimsAHash()
    {
        var folder = MarkedFolder();
        File.Copy(models.CleanDat, Path.Combine(folder, "clean.dat"));
        var hashed = CliRunner.Run("scan", folder, "--key", models.OwnerKey);
        var fast = CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--no-digest", "--sarif", Path.Combine(folder, "fast.sarif"));
        Assert.Equal(hashed.Code, fast.Code);
        Assert.Equal(ExitCodes.Absent, fast.Code);
        var lines = Lines(fast.Out);
        Assert.Equal(Lines(hashed.Out).Select(l => (l.GetProperty("path").GetString(), l.GetProperty("status").GetString(), l.GetProperty("matched").GetInt32())), lines.Select(l => (l.GetProperty("path").GetString(), l.GetProperty("status").GetString(), l.GetProperty("matched").GetInt32())));
        Assert.All(lines, l => Assert.Equal(JsonValueKind.Null, l.GetProperty("sha256").ValueKind));
        Assert.All(lines, l => Assert.True(l.GetProperty("size").GetInt64() > 0));
        using var sarif = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "fast.sarif")));
        Assert.All(sarif.RootElement.GetProperty("runs")[0].GetProperty("artifacts").EnumerateArray(), a => Assert.False(a.TryGetProperty("hashes", out _)));

        var refused = CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--no-digest", "--attestations", Path.Combine(folder, "att"));
        Assert.True(refused.Code == ExitCodes.Unusable, refused.ToString());
        Assert.Contains("--attestations needs the files' SHA-256", refused.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(folder, "att")));
    }

    [Fact]
    public void AnUnmarkedModelMakesItOneAndACorruptOneTwo()
    {
        var folder = MarkedFolder();
        File.Copy(models.CleanDat, Path.Combine(folder, "clean.dat"));
        File.Copy(PyTorchCheckpointTests.Fixture("twolayers_dataparallel.pth"), Path.Combine(folder, "torch", "fresh.pth")); // PyTorch-made, never saw the key
        var absent = CliRunner.Run("scan", folder, "--key", models.OwnerKey);
        Assert.True(absent.Code == ExitCodes.Absent, absent.ToString());
        var statuses = Lines(absent.Out).ToDictionary(l => Path.GetFileName(l.GetProperty("path").GetString()!), l => l.GetProperty("status").GetString());
        Assert.Equal("absent", statuses["clean.dat"]);
        Assert.Equal("absent", statuses["fresh.pth"]);

        var bytes = File.ReadAllBytes(models.MarkedSafetensors);
        File.WriteAllBytes(Path.Combine(folder, "truncated.safetensors"), bytes[..(bytes.Length / 2)]);
        var unusable = CliRunner.Run("scan", folder, "--key", models.OwnerKey);
        Assert.True(unusable.Code == ExitCodes.Unusable, unusable.ToString());
        var corrupt = Assert.Single(Lines(unusable.Out), l => l.GetProperty("status").GetString() == "unusable");
        Assert.EndsWith("truncated.safetensors", corrupt.GetProperty("path").GetString(), StringComparison.Ordinal);
        Assert.Contains("truncated.safetensors", corrupt.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes[..(bytes.Length / 2)])), corrupt.GetProperty("sha256").GetString());
        Assert.Contains("watermark: unusable:", unusable.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AnErrorNeverReadsAsClean()
    {
        var folder = MarkedFolder();
        // A key for another model (the host in another shape): every file is unusable, not absent and never present.
        var otherShape = Path.Combine(folder, "..", $"other-{Guid.NewGuid():N}.key.json");
        new Keyring(WatermarkKey.Create(TrainedModels.Host, [32, 16, 5, 5], 16, KeyKind.Random, Message.FromText("A"), WatermarkKey.DefaultStrength, null, false, TrainedModels.Seed(7))).Save(otherShape);
        try
        {
            Assert.Equal(ExitCodes.Unusable, CliRunner.Run("scan", folder, "--key", otherShape).Code);
        }
        finally
        {
            File.Delete(otherShape);
        }

        Assert.Equal(ExitCodes.Unusable, CliRunner.Run("scan", folder, Path.Combine(folder, "missing.dat"), "--key", models.OwnerKey).Code);
        Assert.Equal(ExitCodes.Unusable, CliRunner.Run("scan", folder, "--key", Path.Combine(folder, "no.key.json")).Code);
        Assert.Equal(ExitCodes.Unusable, CliRunner.Run("scan", "--key", models.OwnerKey).Code);
    }

    [Fact]
    public void UnrelatedFilesAreSkippedInFoldersButAnExplicitOneIsUnusable()
    {
        var folder = MarkedFolder();
        // README.md and config.json are in the folder: not taken.
        Assert.Equal(4, Lines(CliRunner.Run("scan", folder, "--key", models.OwnerKey).Out).Count);

        // Safetensors content under an unknown extension is taken by its header.
        File.Copy(models.MarkedSafetensors, Path.Combine(folder, "weights.data"));
        Assert.Equal(5, Lines(CliRunner.Run("scan", folder, "--key", models.OwnerKey).Out).Count);

        var named = CliRunner.Run("scan", Path.Combine(folder, "README.md"), "--key", models.OwnerKey);
        Assert.True(named.Code == ExitCodes.Unusable, named.ToString());
        var line = Assert.Single(Lines(named.Out));
        Assert.Equal("unusable", line.GetProperty("status").GetString());
        Assert.Contains("unknown format", line.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void NothingToCheckIsThree()
    {
        var empty = NewFolder();
        var run = CliRunner.Run("scan", empty, "--key", models.OwnerKey);
        Assert.True(run.Code == ExitCodes.NoModels, run.ToString());
        Assert.Empty(run.Out);
        Assert.Contains("no model file found", run.Err, StringComparison.Ordinal);

        File.WriteAllText(Path.Combine(empty, "notes.txt"), "text");
        Assert.Equal(ExitCodes.NoModels, CliRunner.Run("scan", empty, "--key", models.OwnerKey).Code);
        var glob = CliRunner.Run("scan", Path.Combine(empty, "*.safetensors"), "--key", models.OwnerKey);
        Assert.Equal(ExitCodes.NoModels, glob.Code);
        Assert.Contains("matched no model file", glob.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void GlobsAreExpandedWhenTheShellDidNot()
    {
        var folder = MarkedFolder();
        var rel = Relative(folder);
        var deep = Lines(CliRunner.Run("scan", $"{rel}/**/*.pt", "--key", models.OwnerKey).Out);
        Assert.Equal([$"{rel}/torch/deep/marked.pt"], deep.Select(l => l.GetProperty("path").GetString()));
        var top = Lines(CliRunner.Run("scan", $"{rel}/marked.*", "--key", models.OwnerKey).Out);
        Assert.Equal([$"{rel}/marked.dat", $"{rel}/marked.safetensors"], top.Select(l => l.GetProperty("path").GetString()));
    }

    [Fact]
    public void LinksToFoldersAreNotFollowed()
    {
        var folder = MarkedFolder();
        File.CreateSymbolicLink(Path.Combine(folder, "torch", "deep", "loop"), folder);
        File.CreateSymbolicLink(Path.Combine(folder, "alias.dat"), Path.Combine(folder, "marked.dat"));
        var run = CliRunner.Run("scan", folder, "--key", models.OwnerKey);
        Assert.True(run.Code == ExitCodes.Present, run.ToString());
        Assert.Equal(5, Lines(run.Out).Count); // the 4 models and the link to a file; nothing through the loop
    }

    [Fact]
    public void TheOrderIsTheSameWhateverTheJobs()
    {
        var folder = MarkedFolder();
        File.Copy(models.CleanDat, Path.Combine(folder, "clean.dat"));
        File.Copy(models.UnrelatedDat, Path.Combine(folder, "torch", "unrelated.dat"));
        File.WriteAllBytes(Path.Combine(folder, "onnx", "empty.onnx"), []);
        var one = CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--jobs", "1");
        var four = CliRunner.Run("scan", folder, "--key", models.OwnerKey, "-j", "4");
        Assert.Equal(ExitCodes.Unusable, one.Code);
        Assert.Equal(one.Code, four.Code);
        Assert.Equal(one.Out, four.Out);
        var paths = Lines(one.Out).Select(l => l.GetProperty("path").GetString()).ToList();
        Assert.Equal(paths.Order(StringComparer.Ordinal), paths);
        Assert.Equal(ExitCodes.Unusable, CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--jobs", "0").Code);
    }

    [Fact]
    public void ShardsPartitionTheFilesExactly()
    {
        var folder = MarkedFolder();
        File.Copy(models.CleanDat, Path.Combine(folder, "clean.dat"));
        File.Copy(models.UnrelatedDat, Path.Combine(folder, "torch", "unrelated.dat"));
        File.Copy(models.MarkedDat, Path.Combine(folder, "onnx", "copy.dat"));
        var all = Lines(CliRunner.Run("scan", folder, "--key", models.OwnerKey).Out).Select(l => l.GetProperty("path").GetString()!).ToList();
        Assert.Equal(7, all.Count);
        foreach (var count in new[] { 1, 2, 3, 5 })
        {
            var seen = new List<string>();
            for (var index = 0; index < count; index++)
            {
                var run = CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--shard", $"{index}/{count}");
                var paths = Lines(run.Out).Select(l => l.GetProperty("path").GetString()!).ToList();
                Assert.True(paths.Count > 0 ? run.Code is ExitCodes.Present or ExitCodes.Absent : run.Code == ExitCodes.NoModels, run.ToString());
                Assert.All(paths, p => Assert.Equal(index, (int)(Shard.Fnv1a64(p) % (ulong)count)));
                seen.AddRange(paths);
            }

            Assert.Equal(all, seen.Order(StringComparer.Ordinal));
        }

        // More shards than files: some shard is empty, and an empty shard is 3, never 0.
        var empty = Enumerable.Range(0, 40).First(i => all.All(p => (int)(Shard.Fnv1a64(p) % 40) != i));
        Assert.Equal(ExitCodes.NoModels, CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--shard", $"{empty}/40").Code);
        foreach (var bad in new[] { "4/4", "-1/4", "1/0", "1", "a/b", "1/2/3" })
        {
            var run = CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--shard", bad);
            Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
            Assert.Contains("--shard", run.Err, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async System.Threading.Tasks.Task SarifValidatesAgainstTheSarif210Schema()
    {
        var folder = MarkedFolder();
        File.Copy(models.CleanDat, Path.Combine(folder, "clean.dat"));
        File.WriteAllBytes(Path.Combine(folder, "broken.safetensors"), [1, 2, 3]);
        var sarif = Path.Combine(folder, "..", $"{Path.GetFileName(folder)}.sarif");
        try
        {
            // models.MarkedOnnx lies outside the current folder: its URI is absolute.
            var run = CliRunner.Run("scan", folder, models.MarkedOnnx, "--key", models.OwnerKey, "--sarif", sarif);
            Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
            var text = File.ReadAllText(sarif);
            var schema = await JsonSchema.FromJsonAsync(await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Fixtures", "sarif-schema-2.1.0.json")));
            var errors = schema.Validate(text);
            Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => e.ToString())));
            Assert.NotEmpty(schema.Validate(text.Replace("\"level\": \"note\"", "\"level\": \"fatal\"", StringComparison.Ordinal))); // the validator does look

            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            Assert.Equal("2.1.0", root.GetProperty("version").GetString());
            Assert.Equal("https://json.schemastore.org/sarif-2.1.0.json", root.GetProperty("$schema").GetString());
            var sarifRun = Assert.Single(root.GetProperty("runs").EnumerateArray().ToArray());
            Assert.Equal("watermark", sarifRun.GetProperty("tool").GetProperty("driver").GetProperty("name").GetString());
            Assert.Equal(["WM001", "WM002", "WM003"], sarifRun.GetProperty("tool").GetProperty("driver").GetProperty("rules").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
            var results = sarifRun.GetProperty("results").EnumerateArray().ToList();
            var lines = Lines(run.Out);
            Assert.Equal(lines.Count, results.Count);
            Assert.Equal(
                lines.Select(l => l.GetProperty("status").GetString() switch { "present" => "WM001", "absent" => "WM002", _ => "WM003" }),
                results.Select(r => r.GetProperty("ruleId").GetString()));
            var artifacts = sarifRun.GetProperty("artifacts").EnumerateArray().ToList();
            foreach (var (line, result) in lines.Zip(results))
            {
                var location = result.GetProperty("locations")[0].GetProperty("physicalLocation").GetProperty("artifactLocation");
                var path = line.GetProperty("path").GetString()!;
                Assert.Equal(Path.IsPathRooted(path) ? new Uri(path).AbsoluteUri : path, location.GetProperty("uri").GetString());
                Assert.Equal(Path.IsPathRooted(path), !location.TryGetProperty("uriBaseId", out _));
                var artifact = artifacts[location.GetProperty("index").GetInt32()];
                Assert.Equal(line.GetProperty("sha256").GetString(), artifact.GetProperty("hashes").GetProperty("sha-256").GetString());
                Assert.Contains(line.GetProperty("status").GetString()!, result.GetProperty("message").GetProperty("text").GetString(), StringComparison.Ordinal);
            }

            Assert.Equal(ExitCodes.Unusable, sarifRun.GetProperty("invocations")[0].GetProperty("exitCode").GetInt32());

            // An existing log is not replaced without --force.
            var again = CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--sarif", sarif);
            Assert.Equal(ExitCodes.Unusable, again.Code);
            Assert.Contains("--sarif", again.Err, StringComparison.Ordinal);
            Assert.Equal(text, File.ReadAllText(sarif));
        }
        finally
        {
            File.Delete(sarif);
        }
    }

    [Fact]
    public void OutputGoesToAFileWhenAsked()
    {
        var folder = MarkedFolder();
        var output = Path.Combine(folder, "..", $"{Path.GetFileName(folder)}.jsonl");
        try
        {
            var run = CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--output", output);
            Assert.True(run.Code == ExitCodes.Present, run.ToString());
            Assert.Empty(run.Out);
            Assert.Equal(4, Lines(File.ReadAllText(output)).Count);
            Assert.Equal(ExitCodes.Unusable, CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--output", output).Code);
            Assert.Equal(ExitCodes.Present, CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--output", output, "--force").Code);
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Fact]
    public void AttestationsAreInTotoStatementsOfUsableModelsOnly()
    {
        var folder = MarkedFolder();
        File.Copy(models.CleanDat, Path.Combine(folder, "clean.dat"));
        File.WriteAllBytes(Path.Combine(folder, "broken.onnx"), [0xFF, 0xFF, 0xFF]);
        var attestations = Path.Combine(folder, "..", $"{Path.GetFileName(folder)}-attestations");
        folders.Add(attestations);
        var run = CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--attestations", attestations);
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        var lines = Lines(run.Out);
        var written = Directory.GetFiles(attestations).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(
            lines.Where(l => l.GetProperty("status").GetString() != "unusable").Select(l => l.GetProperty("path").GetString()!.Replace("/", "%2F", StringComparison.Ordinal) + ".intoto.json"),
            written);
        foreach (var line in lines.Where(l => l.GetProperty("status").GetString() != "unusable"))
        {
            var path = line.GetProperty("path").GetString()!;
            using var statement = JsonDocument.Parse(File.ReadAllText(Path.Combine(attestations, path.Replace("/", "%2F", StringComparison.Ordinal) + ".intoto.json")));
            var root = statement.RootElement;
            Assert.Equal("https://in-toto.io/Statement/v1", root.GetProperty("_type").GetString());
            Assert.StartsWith("https://", root.GetProperty("predicateType").GetString(), StringComparison.Ordinal);
            var subject = Assert.Single(root.GetProperty("subject").EnumerateArray().ToArray());
            Assert.Equal(Path.GetFileName(path), subject.GetProperty("name").GetString());
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))), subject.GetProperty("digest").GetProperty("sha256").GetString());
            var predicate = root.GetProperty("predicate");
            Assert.Equal(line.GetProperty("status").GetString(), predicate.GetProperty("verdict").GetString());
            Assert.Equal(line.GetProperty("matched").GetInt32(), predicate.GetProperty("matched").GetInt32());
            Assert.Equal(TrainedModels.Host, predicate.GetProperty("slots")[0].GetProperty("name").GetString());
            Assert.False(predicate.GetProperty("slots")[0].TryGetProperty("payload", out _));
            Assert.Equal("watermark", predicate.GetProperty("verifier").GetProperty("name").GetString());
            Assert.True(DateTimeOffset.TryParse(predicate.GetProperty("timeVerified").GetString(), out _));
        }

        // Never replaced without --force; with it, replaced.
        var before = File.ReadAllText(Path.Combine(attestations, written[0]!));
        var again = CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--attestations", attestations);
        Assert.Equal(ExitCodes.Unusable, again.Code);
        Assert.Contains("--force", again.Err, StringComparison.Ordinal);
        Assert.Empty(again.Out);
        Assert.Equal(before, File.ReadAllText(Path.Combine(attestations, written[0]!)));
        Assert.Equal(ExitCodes.Unusable, CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--attestations", attestations, "--force").Code);
    }

    [Fact]
    public void VerifyWritesAnAttestationWithTheReference()
    {
        var folder = NewFolder();
        var statement = Path.Combine(folder, "verdict.intoto.json");
        var run = CliRunner.Run("verify", "--model", models.MarkedOnnx, "--key", models.OwnerKey, "--reference", models.MarkedDat, "--attestation", statement);
        Assert.True(run.Code == ExitCodes.Present, run.ToString());
        using var document = JsonDocument.Parse(File.ReadAllText(statement));
        var root = document.RootElement;
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(models.MarkedOnnx))), root.GetProperty("subject")[0].GetProperty("digest").GetProperty("sha256").GetString());
        Assert.Equal("marked.onnx", root.GetProperty("subject")[0].GetProperty("name").GetString());
        var predicate = root.GetProperty("predicate");
        Assert.Equal("present", predicate.GetProperty("verdict").GetString());
        Assert.True(predicate.GetProperty("confident").GetBoolean());
        Assert.Equal(64, predicate.GetProperty("aligned").GetProperty("matched").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(models.MarkedDat))), predicate.GetProperty("referenceModel").GetProperty("digest").GetProperty("sha256").GetString());

        Assert.Equal(ExitCodes.Unusable, CliRunner.Run("verify", "--model", models.MarkedOnnx, "--key", models.OwnerKey, "--attestation", statement).Code);
        Assert.Equal(ExitCodes.Present, CliRunner.Run("verify", "--model", models.MarkedOnnx, "--key", models.OwnerKey, "--attestation", statement, "--force").Code);

        // Unusable input gets no attestation.
        var none = Path.Combine(folder, "none.intoto.json");
        Assert.Equal(ExitCodes.Unusable, CliRunner.Run("verify", "--model", Path.Combine(folder, "missing.dat"), "--key", models.OwnerKey, "--attestation", none).Code);
        Assert.False(File.Exists(none));
    }

    [Fact]
    public void NoOutputHoldsTheKeysSecretMaterial()
    {
        var folder = MarkedFolder();
        File.Copy(models.CleanDat, Path.Combine(folder, "clean.dat"));
        var attestations = Path.Combine(folder, "..", $"{Path.GetFileName(folder)}-attestations");
        var sarif = Path.Combine(folder, "..", $"{Path.GetFileName(folder)}.sarif");
        folders.Add(attestations);
        try
        {
            var run = CliRunner.Run("scan", folder, "--key", models.OwnerKey, "--sarif", sarif, "--attestations", attestations);
            Assert.Equal(ExitCodes.Absent, run.Code);
            var statement = Path.Combine(folder, "..", $"{Path.GetFileName(folder)}-verify.intoto.json");
            Assert.Equal(ExitCodes.Present, CliRunner.Run("verify", "--model", models.MarkedDat, "--key", models.OwnerKey, "--attestation", statement).Code);
            var outputs = new List<string> { run.Out, run.Err, File.ReadAllText(sarif), File.ReadAllText(statement) };
            File.Delete(statement);
            outputs.AddRange(Directory.GetFiles(attestations).Select(File.ReadAllText));

            // The seed as the key file stores it (hex), and its bytes in other encodings.
            using var key = JsonDocument.Parse(File.ReadAllText(models.OwnerKey));
            var seedHex = key.RootElement.GetProperty("slots")[0].GetProperty("seed").GetString()!;
            var seed = Convert.FromHexString(seedHex);
            string[] secrets = [seedHex, seedHex.ToUpperInvariant(), Convert.ToBase64String(seed), Convert.ToBase64String(seed).TrimEnd('='), Convert.ToHexString(seed[..8])];
            foreach (var output in outputs)
            {
                foreach (var secret in secrets)
                {
                    Assert.DoesNotContain(secret, output, StringComparison.OrdinalIgnoreCase);
                }
            }

            // The attestations and SARIF carry counts and p-values, not the message read back.
            Assert.All(outputs.Skip(2), o => Assert.DoesNotContain("ACME", o, StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(sarif);
        }
    }

    public void Dispose()
    {
        foreach (var folder in folders)
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // A leftover folder is harmless.
            }
        }
    }
}
