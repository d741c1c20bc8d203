//! `kafka-dump-log`: Kafka's `DumpLogSegments`. Prints the batches (and
//! with `--deep-iteration` / `--print-data-log` the records) of `.log`
//! segment files, and the entries of `.index`, `.timeindex` and `.txnindex`
//! files, checking each index entry against its log. See
//! `examples::dump_log` for the formats.
//!
//! ```text
//! kafka-dump-log --files /data/orders-0/00000000000000000000.log,/data/orders-0/00000000000000000000.index \
//!     --print-data-log
//! ```

use std::io::{BufWriter, ErrorKind, Write};
use std::path::Path;
use std::process::ExitCode;

use examples::cli::{self, Args, Failure, Opt, Tool};
use examples::dump_log::{self, Decoder, DumpError, DumpOptions, Problems};

const OPTS: &[Opt] = &[
    Opt::flag("print-data-log", "If set, printing the messages content when dumping data logs. Automatically set if any decoder option is specified."),
    Opt::flag("verify-index-only", "If set, just verify the index log without printing its content."),
    Opt::flag("index-sanity-check", "If set, just checks the index sanity without printing its content. This is the same check that is executed on broker startup to determine if an index needs rebuilding or not."),
    Opt::value("files", "String: file1, file2, ...", "REQUIRED: The comma separated list of data and index log files to be dumped."),
    Opt::value("max-message-size", "Integer: size", "Size of largest message.").default("5242880"),
    Opt::value("max-bytes", "Integer: size", "Limit the amount of total batches read in bytes avoiding reading the whole .log file(s).").default("2147483647"),
    Opt::flag("deep-iteration", "If set, uses deep instead of shallow iteration. Automatically set if print-data-log is enabled."),
    Opt::value("value-decoder-class", "String", "If set, used to deserialize the messages: StringDecoder, IntegerDecoder, LongDecoder or DefaultDecoder (raw bytes).").default("org.apache.kafka.tools.api.StringDecoder"),
    Opt::value("key-decoder-class", "String", "If set, used to deserialize the keys: StringDecoder, IntegerDecoder, LongDecoder or DefaultDecoder (raw bytes).").default("org.apache.kafka.tools.api.StringDecoder"),
    Opt::flag("offsets-decoder", "Decode __consumer_offsets records: not supported by this tool."),
    Opt::flag("transaction-log-decoder", "Decode __transaction_state records: not supported by this tool."),
    Opt::flag("cluster-metadata-decoder", "Decode __cluster_metadata records: not supported by this tool."),
    Opt::flag("remote-log-metadata-decoder", "Decode __remote_log_metadata records: not supported by this tool."),
    Opt::flag("skip-record-metadata", "Whether to skip printing metadata for each record."),
];

const TOOL: Tool = Tool {
    name: "kafka-dump-log",
    about: "This tool helps to parse a log file and dump its contents to the console, useful for debugging a seemingly corrupt log segment.",
    opts: OPTS,
};

fn main() -> ExitCode {
    cli::run(&TOOL, run)
}

fn options(args: &Args) -> Result<DumpOptions, Failure> {
    for unsupported in
        ["offsets-decoder", "transaction-log-decoder", "cluster-metadata-decoder", "remote-log-metadata-decoder"]
    {
        if args.has(unsupported) {
            return Err(Failure::usage(format!("--{unsupported} is not supported by this tool")));
        }
    }
    let size = |name: &str| -> Result<u64, Failure> {
        match args.parse::<i64>(name)? {
            Some(n) if n >= 0 => Ok(n as u64),
            Some(n) => Err(Failure::usage(format!("--{name} must not be negative, got {n}"))),
            None => Err(cli::missing(name)),
        }
    };
    let decoder = |name: &str| Decoder::from_class(args.value(name).unwrap_or("StringDecoder"));
    let decoders_given = args.has("key-decoder-class") || args.has("value-decoder-class");
    Ok(DumpOptions {
        print_data_log: args.has("print-data-log") || decoders_given,
        deep_iteration: args.has("deep-iteration"),
        skip_record_metadata: args.has("skip-record-metadata"),
        verify_index_only: args.has("verify-index-only"),
        index_sanity_only: args.has("index-sanity-check"),
        max_message_size: size("max-message-size")?,
        max_bytes: size("max-bytes")?,
        key_decoder: decoder("key-decoder-class")?,
        value_decoder: decoder("value-decoder-class")?,
    })
}

fn run(args: Args) -> Result<ExitCode, Failure> {
    let files = args.required("files")?.to_string();
    let opts = options(&args)?;
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut err = std::io::stderr();
    let mut problems = Problems::default();
    for file in files.split(',') {
        match dump_log::dump_file(Path::new(file), &opts, &mut out, &mut err, &mut problems) {
            Ok(()) => {}
            // A reader that went away (`| head`) is not an error.
            Err(DumpError::Output(e)) if e.kind() == ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
            Err(DumpError::Output(e)) => return Err(Failure::new(format!("cannot write the dump: {e}"))),
            Err(DumpError::Input(e)) => {
                let _ = out.flush();
                return Err(e);
            }
        }
    }
    match out.flush() {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(Failure::new(format!("cannot write the dump: {e}"))),
        Ok(()) => {}
    }
    let _ = problems.write(&mut err);
    Ok(ExitCode::SUCCESS)
}
