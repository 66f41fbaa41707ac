return Watermark.Cli.WatermarkCommand.Run(args, System.Console.Out, System.Console.Error);
