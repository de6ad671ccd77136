//! Command-line definitions (clap derive). Every command has `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "pcapx",
    version,
    about = "Read, filter, inspect, tabulate and summarise packet captures (pcap, pcapng, gzip/zstd, stdin)",
    after_help = "Examples:\n  pcapx summary temp.pcap -c 10\n  pcapx convert temp.pcap --to csv -o temp.csv\n  pcapx stats temp.pcap --group-by src --sum payload\n  pcapx summary temp.pcap --filter 'tcp port 443'"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// One Scapy-style summary line per packet (`Ether / IP / TCP 10.0.0.1:36112 > 10.0.0.2:https A`)
    Summary(SummaryArgs),
    /// A layered dump of every field of each packet (Scapy's `show()`)
    Show(ShowArgs),
    /// Per-protocol packet counts (`<pcapx: TCP:6 UDP:1 ICMP:0 Other:3>`), or a protocol hierarchy
    Count(CountArgs),
    /// List every registered field: name, aliases, type, description
    Fields(FieldsArgs),
    /// Capture file facts like capinfos: format, interfaces, counts, time span, damage
    Info(InfoArgs),
    /// Turn a capture into a field table: CSV, JSON, JSON Lines or Parquet
    Convert(ConvertArgs),
}

/// Arguments shared by every command that reads a capture.
#[derive(Args, Debug, Clone)]
pub struct Input {
    /// Capture file (pcap or pcapng, optionally gzip/zstd compressed); `-` reads standard input
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Stop after this many packets (counted after the filter)
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub limit: Option<u64>,
    /// Only packets matching this tcpdump/libpcap filter expression, e.g. 'tcp port 443'
    #[arg(short = 'f', long, value_name = "EXPR")]
    pub filter: Option<String>,
}

#[derive(Args, Debug)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub input: Input,
    /// Show port numbers instead of service names
    #[arg(short = 'n', long)]
    pub numeric: bool,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    #[command(flatten)]
    pub input: Input,
    /// Only packet number N (1-based)
    #[arg(short = 'p', long = "packet", value_name = "N")]
    pub packet: Option<u64>,
    /// Also print a hexdump of each packet
    #[arg(long)]
    pub hex: bool,
}

#[derive(Args, Debug)]
pub struct CountArgs {
    #[command(flatten)]
    pub input: Input,
    /// Protocol hierarchy with packet and byte counts (like `tshark -z io,phs`)
    #[arg(long)]
    pub hierarchy: bool,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct FieldsArgs {
    /// Only the fields of this protocol (e.g. `tcp`)
    #[arg(long, value_name = "NAME")]
    pub layer: Option<String>,
    /// JSON output
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    #[command(flatten)]
    pub input: Input,
    /// JSON output
    #[arg(long)]
    pub json: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToFormat {
    Csv,
    Json,
    Jsonl,
    Parquet,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimeFmt {
    /// Seconds since the epoch with all nine decimals
    #[default]
    Epoch,
    /// ISO 8601 UTC with nanoseconds
    Iso,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OccurrenceArg {
    #[default]
    First,
    Last,
    /// Every occurrence: joined with ';' in CSV/Parquet, an array in JSON
    All,
}

/// Options that choose and shape a table's rows and columns (convert, stats, …).
#[derive(Args, Debug, Clone)]
pub struct TableArgs {
    /// Comma-separated field names or aliases (see `pcapx fields`); one row per packet
    #[arg(long, value_name = "LIST")]
    pub fields: Option<String>,
    /// One row per packet of any kind (default: the tutorial's table, one row per IPv4 packet)
    #[arg(long)]
    pub all: bool,
    /// Worker threads (default: all cores); output is identical for any count
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Args, Debug)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub input: Input,
    #[command(flatten)]
    pub table: TableArgs,
    /// Output format (default: from the extension of -o, else csv)
    #[arg(long, value_enum)]
    pub to: Option<ToFormat>,
    /// Output file (default: standard output; Parquet needs a file)
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// How times are written in CSV/JSON
    #[arg(long, value_enum, default_value_t)]
    pub time_format: TimeFmt,
    /// Which occurrence of a repeated field to write
    #[arg(long, value_enum, default_value_t)]
    pub occurrence: OccurrenceArg,
    /// Print the account (packets read, rows written, skipped, damaged) on standard error
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// No progress bar
    #[arg(short = 'q', long)]
    pub quiet: bool,
}
