using System.IO;
using WideResNet.Experiments;
using Xunit;

namespace WideResNet.Tests;

public sealed class ReportTests
{
    // REPORT.md claims to be generated from the JSON files beside it: regenerating it from them must give
    // the committed text, so a hand edit or a generator change without a rerun of `report` fails here.
    [Fact]
    public void CommittedReportIsWhatTheCommittedResultsGenerate()
    {
        var results = Path.Combine(SampleData.Repository, "samples", "WideResNet", "results");
        var copy = Directory.CreateTempSubdirectory("wrn-report-").FullName;
        try
        {
            foreach (var json in Directory.GetFiles(results, "*.json"))
            {
                File.Copy(json, Path.Combine(copy, Path.GetFileName(json)));
            }

            var report = Report.WriteReport(copy);
            static string Text(string path) => File.ReadAllText(path).ReplaceLineEndings("\n");
            Assert.Equal(Text(Path.Combine(results, "REPORT.md")), Text(report));
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    [Fact]
    public void ListsTheExperimentsNotRunYetWithTheirCommands()
    {
        var empty = Directory.CreateTempSubdirectory("wrn-report-").FullName;
        try
        {
            var text = File.ReadAllText(Report.WriteReport(empty));
            foreach (var name in Registry.Names)
            {
                Assert.Contains($"- `{name}`: `dotnet run --project samples/WideResNet -c Release -- {name} --preset cpu", text, System.StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }
}
