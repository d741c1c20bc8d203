//! Command-line handling shared by the tools: Kafka's long options
//! (`--bootstrap-server H:P`, `--bootstrap-server=H:P`, repeatable
//! `--property k=v`, multi-valued `--producer-props a=1 b=2`), a help page
//! laid out like jopt-simple's, and the convention that a failure is one
//! line on stderr and exit status 1.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::process::ExitCode;
use std::str::FromStr;

/// How many values an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// No value (`--from-beginning`).
    Flag,
    /// Exactly one value (`--topic T`).
    Value,
    /// One value if the next argument is not an option (`--compression-codec [gzip]`).
    OptionalValue,
    /// One or more values up to the next option (`--producer-props a=1 b=2`).
    Values,
}

/// One option of a tool.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    /// The name without the leading dashes.
    pub name: &'static str,
    /// What it takes.
    pub arity: Arity,
    /// What the value is, for the help page.
    pub meta: &'static str,
    /// The help text.
    pub help: &'static str,
    /// The value used when the option is absent.
    pub default: Option<&'static str>,
}

impl Opt {
    /// An option without a value.
    pub const fn flag(name: &'static str, help: &'static str) -> Opt {
        Opt { name, arity: Arity::Flag, meta: "", help, default: None }
    }

    /// An option with one value.
    pub const fn value(name: &'static str, meta: &'static str, help: &'static str) -> Opt {
        Opt { name, arity: Arity::Value, meta, help, default: None }
    }

    /// An option whose value may be left out.
    pub const fn optional(name: &'static str, meta: &'static str, help: &'static str) -> Opt {
        Opt { name, arity: Arity::OptionalValue, meta, help, default: None }
    }

    /// An option with one or more values.
    pub const fn values(name: &'static str, meta: &'static str, help: &'static str) -> Opt {
        Opt { name, arity: Arity::Values, meta, help, default: None }
    }

    /// The same option with a default value (shown in the help).
    pub const fn default(self, default: &'static str) -> Opt {
        Opt { default: Some(default), ..self }
    }
}

/// A tool: its name, what it does, and its options (`--help` and
/// `--version` are added to every tool).
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// The command name.
    pub name: &'static str,
    /// One paragraph on what it does.
    pub about: &'static str,
    /// Its options.
    pub opts: &'static [Opt],
}

/// Why a tool stopped: one line for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    message: String,
    usage: bool,
}

impl Failure {
    /// A failure while running.
    pub fn new(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), usage: false }
    }

    /// A mistake on the command line: the line points to `--help`.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), usage: true }
    }

    /// The message without the tool name.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if self.usage {
            f.write_str(" (see --help)")?;
        }
        Ok(())
    }
}

impl From<kafka_client::Error> for Failure {
    fn from(e: kafka_client::Error) -> Failure {
        Failure::new(e.to_string())
    }
}

impl From<kafka_client::producer::SendError> for Failure {
    fn from(e: kafka_client::producer::SendError) -> Failure {
        Failure::new(format!("record for {} not sent: {}", e.record.topic, e.error))
    }
}

/// The options given on a command line.
#[derive(Debug, Clone, Default)]
pub struct Args {
    /// Values by option name, in the order given; a flag (or an optional
    /// value left out) has no value.
    given: BTreeMap<&'static str, Vec<Option<String>>>,
    defaults: BTreeMap<&'static str, &'static str>,
}

impl Args {
    /// Whether the option was given.
    pub fn has(&self, name: &str) -> bool {
        self.given.contains_key(name)
    }

    /// The option's last value, else its default (also when an optional
    /// value was left out). As with jopt-simple, a repeated single-valued
    /// option keeps the last value.
    pub fn value(&self, name: &str) -> Option<&str> {
        let given = self.given.get(name).and_then(|vals| vals.iter().rev().find_map(|v| v.as_deref()));
        given.or_else(|| self.defaults.get(name).copied())
    }

    /// Every value given for the option, in order (no default).
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.given.get(name).map(|vals| vals.iter().filter_map(|v| v.as_deref()).collect()).unwrap_or_default()
    }

    /// The option's value (or default), converted.
    pub fn parse<T: FromStr>(&self, name: &str) -> Result<Option<T>, Failure> {
        match self.value(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<T>().map(Some).map_err(|_| {
                Failure::usage(format!(
                    "Cannot parse argument '{v}' of option {name}: not a valid {}",
                    type_name::<T>()
                ))
            }),
        }
    }

    /// The option's value; its absence is Kafka's "Missing required argument".
    pub fn required(&self, name: &str) -> Result<&str, Failure> {
        self.value(name).ok_or_else(|| missing(name))
    }
}

/// Kafka's message for a required option that is missing.
pub fn missing(name: &str) -> Failure {
    Failure::usage(format!("Missing required argument \"[{name}]\""))
}

/// Kafka's `CommandLineUtils.checkInvalidArgs` message: `used` cannot go
/// with `other`.
pub fn invalid_with(used: &str, other: &str) -> Failure {
    Failure::usage(format!("Option \"[{used}]\" can't be used with option \"[{other}]\""))
}

/// The one action of `actions` the command line names; Kafka's usage error
/// `message` when it names none or several.
pub fn one_action(args: &Args, actions: &[&'static str], message: &str) -> Result<&'static str, Failure> {
    match actions.iter().filter(|a| args.has(a)).collect::<Vec<_>>().as_slice() {
        [action] => Ok(**action),
        _ => Err(Failure::usage(message)),
    }
}

fn type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    match full {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" => "integer",
        "f32" | "f64" => "number",
        _ => full.rsplit("::").next().unwrap_or(full),
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Run with these options.
    Run(Args),
    /// Print the help page.
    Help,
    /// Print the version.
    Version,
}

/// Parses `args` (without the program name) against the tool's options.
pub fn parse(tool: &Tool, args: impl IntoIterator<Item = OsString>) -> Result<Parsed, Failure> {
    use lexopt::Arg::{Long, Short, Value};

    let mut out = Args::default();
    for o in tool.opts {
        if let Some(d) = o.default {
            out.defaults.insert(o.name, d);
        }
    }
    let mut p = lexopt::Parser::from_args(args);
    let text = |v: OsString, name: &str| -> Result<String, Failure> {
        v.into_string().map_err(|v| Failure::usage(format!("the value {v:?} of --{name} is not valid UTF-8")))
    };
    loop {
        let arg = match p.next() {
            Ok(Some(a)) => a,
            Ok(None) => break,
            Err(e) => return Err(Failure::usage(e.to_string())),
        };
        let name = match arg {
            Long("help") | Short('h') => return Ok(Parsed::Help),
            Long("version") => return Ok(Parsed::Version),
            Long(name) => name.to_string(),
            Short(c) => return Err(Failure::usage(format!("{c} is not a recognized option"))),
            Value(v) => {
                return Err(Failure::usage(format!(
                    "Found non-option argument '{}'; options start with --",
                    v.to_string_lossy()
                )));
            }
        };
        let Some(opt) = tool.opts.iter().find(|o| o.name == name) else {
            return Err(Failure::usage(format!("{name} is not a recognized option")));
        };
        let slot = out.given.entry(opt.name).or_default();
        match opt.arity {
            Arity::Flag => {
                if let Some(v) = p.optional_value() {
                    return Err(Failure::usage(format!(
                        "Option {name} does not take an argument, got '{}'",
                        v.to_string_lossy()
                    )));
                }
                slot.push(None);
            }
            Arity::Value => {
                let v = p.value().map_err(|_| Failure::usage(format!("Option {name} requires an argument")))?;
                slot.push(Some(text(v, &name)?));
            }
            Arity::OptionalValue => {
                // `--opt=v`, or the next argument when it is not an option.
                let v = match p.optional_value() {
                    Some(v) => Some(v),
                    None => p.try_raw_args().and_then(|mut raw| {
                        raw.next_if(|a| !a.to_string_lossy().starts_with("--") && a.to_string_lossy() != "-h")
                    }),
                };
                slot.push(v.map(|v| text(v, &name)).transpose()?);
            }
            Arity::Values => {
                let vals = p.values().map_err(|_| Failure::usage(format!("Option {name} requires an argument")))?;
                for v in vals {
                    slot.push(Some(text(v, &name)?));
                }
            }
        }
    }
    Ok(Parsed::Run(out))
}

/// The help page: the tool's description, then an option table in
/// jopt-simple's layout.
pub fn help(tool: &Tool) -> String {
    const LEFT: usize = 41;
    const WIDTH: usize = 100;
    let mut s = format!("{}\n", tool.about);
    s.push_str(&format!("{:<LEFT$}{}\n", "Option", "Description"));
    s.push_str(&format!("{:<LEFT$}{}\n", "------", "-----------"));
    let builtin = [Opt::flag("help", "Print usage information."), Opt::flag("version", "Display Kafka version.")];
    let mut opts: Vec<&Opt> = tool.opts.iter().chain(builtin.iter()).collect();
    opts.sort_by_key(|o| o.name);
    for o in opts {
        let left = match o.arity {
            Arity::Flag => format!("--{}", o.name),
            Arity::Value => format!("--{} <{}>", o.name, o.meta),
            Arity::OptionalValue => format!("--{} [{}]", o.name, o.meta),
            Arity::Values => format!("--{} <{}>...", o.name, o.meta),
        };
        let mut desc = o.help.to_string();
        if let Some(d) = o.default {
            desc.push_str(&format!(" (default: {d})"));
        }
        let lines = wrap(&desc, WIDTH - LEFT);
        if left.len() >= LEFT {
            s.push_str(&left);
            s.push('\n');
            for l in lines {
                s.push_str(&format!("{:LEFT$}{l}\n", ""));
            }
        } else {
            for (i, l) in lines.iter().enumerate() {
                let first = if i == 0 { left.as_str() } else { "" };
                s.push_str(&format!("{first:<LEFT$}{l}\n"));
            }
        }
    }
    s
}

/// Splits `text` into lines of at most `width` characters at spaces
/// (explicit newlines are kept).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split(' ') {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                out.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push(line);
    }
    out
}

/// Runs a tool: parses the process's arguments, answers `--help` and
/// `--version`, and turns a failure into one line on stderr and exit 1.
pub fn run(tool: &Tool, body: impl FnOnce(Args) -> Result<ExitCode, Failure>) -> ExitCode {
    // RUST_LOG=kafka_client=debug shows what the client does; silent by
    // default so stderr carries only the tool's own lines.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let outcome = match parse(tool, std::env::args_os().skip(1)) {
        Ok(Parsed::Help) => {
            print!("{}", help(tool));
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            println!("{} (kafka-rs {}; Apache Kafka {} tools)", tool.name, env!("CARGO_PKG_VERSION"), KAFKA_VERSION);
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Run(args)) => body(args),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}: {e}", tool.name);
            ExitCode::FAILURE
        }
    }
}

/// Kafka's `ToolsUtils.validateBootstrapServer`: a non-empty,
/// comma-separated list of `host:port`.
pub fn validate_bootstrap(servers: &str) -> Result<(), Failure> {
    if servers.trim().is_empty() {
        return Err(Failure::usage("Error while validating the bootstrap address"));
    }
    let valid = |hp: &str| hp.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
    if !servers.split(',').all(valid) {
        return Err(Failure::usage("Please provide valid host:port like host1:9091,host2:9092"));
    }
    Ok(())
}

/// The Kafka release whose tools these mimic.
pub const KAFKA_VERSION: &str = "4.0";

/// A multi-threaded tokio runtime for a tool's client work.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the async runtime: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: &[Opt] = &[
        Opt::value("topic", "topic", "The topic."),
        Opt::flag("sync", "Synchronous."),
        Opt::value("property", "prop", "A property."),
        Opt::values("producer-props", "PROP=VALUE", "Props."),
        Opt::optional("print-metrics", "yes|no", "Metrics."),
        Opt::value("timeout", "ms", "Linger.").default("1000"),
    ];
    const TOOL: Tool = Tool { name: "t", about: "A tool.", opts: OPTS };

    fn args(list: &[&str]) -> Result<Args, Failure> {
        match parse(&TOOL, list.iter().map(OsString::from))? {
            Parsed::Run(a) => Ok(a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn values_flags_and_defaults() {
        let a = args(&["--topic", "t1", "--sync", "--property", "a=1", "--property=b=2"]).unwrap();
        assert_eq!(a.value("topic"), Some("t1"));
        assert!(a.has("sync"));
        assert_eq!(a.values("property"), ["a=1", "b=2"]);
        assert_eq!(a.parse::<u64>("timeout").unwrap(), Some(1000));
        assert!(!a.has("timeout"));
    }

    #[test]
    fn multi_values_stop_at_the_next_option() {
        let a = args(&["--producer-props", "acks=1", "linger.ms=-1", "--topic", "x"]).unwrap();
        assert_eq!(a.values("producer-props"), ["acks=1", "linger.ms=-1"]);
        assert_eq!(a.value("topic"), Some("x"));
    }

    #[test]
    fn optional_values() {
        let a = args(&["--print-metrics", "no", "--sync"]).unwrap();
        assert_eq!(a.value("print-metrics"), Some("no"));
        let a = args(&["--print-metrics", "--sync"]).unwrap();
        assert!(a.has("print-metrics") && a.value("print-metrics").is_none());
    }

    #[test]
    fn mistakes_are_usage_errors() {
        assert!(args(&["--nope"]).unwrap_err().to_string().contains("nope is not a recognized option"));
        assert!(args(&["--topic"]).unwrap_err().to_string().contains("requires an argument"));
        assert!(args(&["stray"]).unwrap_err().to_string().contains("non-option argument"));
        let a = args(&["--timeout", "soon"]).unwrap();
        assert!(a.parse::<u64>("timeout").is_err());
        assert_eq!(a.required("topic").unwrap_err().message(), "Missing required argument \"[topic]\"");
    }

    #[test]
    fn help_lists_every_option() {
        let h = help(&TOOL);
        for o in OPTS {
            assert!(h.contains(&format!("--{}", o.name)), "{h}");
        }
        assert!(h.contains("(default: 1000)"));
    }
}
