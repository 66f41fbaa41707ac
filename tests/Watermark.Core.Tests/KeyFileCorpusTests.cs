using System;
using System.IO;
using System.Threading.Tasks;
using Xunit;

namespace Watermark.Tests;

/// <summary>
/// Replays the key files kept in Corpus/ (by eng/fuzz.sh, and by hand): each once crashed the parser
/// (e.g. a lone UTF-16 surrogate escape threw InvalidOperationException). Each must now end in a
/// parsed keyring or a <see cref="KeyFileException"/>, within a few seconds, and a parsed one must
/// derive its keys without failing.
/// </summary>
public class KeyFileCorpusTests
{
    [Fact]
    public async Task EverySavedKeyFileEndsInAKeyringOrTheTypedException()
    {
        var files = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Corpus"), "keyfile-*.json");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var content = File.ReadAllBytes(file);
            var outcome = Task.Run(() =>
            {
                try
                {
                    foreach (var slot in Keyring.Parse(content, file).Slots)
                    {
                        _ = slot.TargetBits();
                        _ = slot.ProjectionMatrix();
                    }

                    return null;
                }
                catch (KeyFileException)
                {
                    return null;
                }
                catch (Exception e)
                {
                    return $"{e.GetType().Name}: {e.Message}";
                }
            });
            var problem = await outcome.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(problem is null, $"{Path.GetFileName(file)}: {problem}");
        }
    }
}
