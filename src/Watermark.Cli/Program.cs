// The `watermark` command is built in its own issue; until then it only names itself.
System.Console.Error.WriteLine("watermark: no verbs yet");
return 2;
