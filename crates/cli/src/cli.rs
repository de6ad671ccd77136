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
    /// Load a dissector plugin (.so); repeatable. Folders in PCAPX_PLUGIN_PATH
    /// (':'-separated) are loaded too.
    #[arg(long = "plugin", value_name = "PATH", global = true)]
    pub plugins: Vec<PathBuf>,
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
    /// Write the records matching a tcpdump filter expression to a new capture
    /// (`tcpdump -r FILE -w OUT EXPR`), or print the compiled BPF program (--dump)
    Filter(FilterArgs),
    /// List the loaded dissector plugins: name, version, ABI, protocols, fields, bindings
    Plugins(PluginsArgs),
    /// Group-by statistics over the convert table: count, sum, mean, min, max, nunique; bar charts
    Stats(StatsArgs),
    /// pandas describe() of fields: count/mean/std/quartiles, or count/unique/top/freq
    Describe(DescribeArgs),
    /// The distinct values of a field in first-seen order (pandas unique()), optionally with counts
    Unique(UniqueArgs),
    /// One row per bidirectional flow (Zeek conn.log-like): Community ID, endpoints, times,
    /// packets/bytes each way, tcp.stream/udp.stream, conn_state, history
    Flows(FlowsArgs),
    /// One TCP or UDP stream's payload, like `tshark -q -z follow,tcp,FORMAT,N`
    Follow(FollowArgs),
    /// Capture live packets (Linux AF_PACKET): print summaries or write pcap/pcapng, like tcpdump
    Capture(CaptureArgs),
}

/// Arguments shared by every command that reads a capture.
#[derive(Args, Debug, Clone)]
pub struct Input {
    /// Capture files (pcap or pcapng, optionally gzip/zstd compressed), directories (their
    /// capture files, in name order) or glob patterns, read in order as one stream (frame
    /// numbers continue as `mergecap -a` would number them); `-` reads standard input
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
    #[command(flatten)]
    pub live: LiveArgs,
    /// Stop after this many packets (counted after the filter)
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub limit: Option<u64>,
    /// Only packets matching this tcpdump/libpcap filter expression, e.g. 'tcp port 443'
    #[arg(short = 'f', long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Do not reassemble fragmented IP datagrams (by default the fragment
    /// completing a datagram decodes its transport and application layers)
    #[arg(long)]
    pub no_defrag: bool,
    /// Do not reassemble TCP segments into application PDUs (by default a
    /// message spanning segments decodes at the segment that completes it),
    /// nor track QUIC connections (server Initials, CRYPTO across datagrams)
    #[arg(long)]
    pub no_desegment: bool,
}

/// Live capture in place of FILE, for the reading commands.
#[derive(Args, Debug, Clone, Default)]
pub struct LiveArgs {
    /// Capture live from this interface instead of reading FILE (repeatable; Linux, root or CAP_NET_RAW)
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,
    /// With -i: stop after this many seconds (also stops on Ctrl-C / SIGTERM)
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
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
    /// Threads doing the work, i.e. cores used (default: all cores; 1: everything on one thread); output is identical for any count
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
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

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionArg {
    /// date=YYYY-MM-DD of the capture time (UTC)
    Date,
    /// date=YYYY-MM-DD/hour=H of the capture time (UTC)
    Hour,
    /// file=NAME: the input file's name (characters other than letters, digits, . _ - become _)
    File,
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
    /// Threads doing the work, i.e. cores used (default: all cores; 1: everything on one thread); output is identical for any count
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
    /// Write a Hive-partitioned Parquet dataset into the directory -o DIR (which must not
    /// exist or be empty): DIR/date=YYYY-MM-DD/ (UTC capture date), DIR/date=…/hour=H/, or
    /// DIR/file=NAME/ (the input file), each holding part-NNNNN.parquet files
    #[arg(long, value_enum, value_name = "KEY")]
    pub partition_by: Option<PartitionArg>,
    /// How times are written in CSV/JSON
    #[arg(long, value_enum, default_value_t)]
    pub time_format: TimeFmt,
    /// Which occurrence of a repeated field to write
    #[arg(long, value_enum, default_value_t)]
    pub occurrence: OccurrenceArg,
    /// Write value names instead of numbers where a field declares them
    /// (Wireshark's value_string: `MOVE` for 2); such columns become text
    #[arg(long)]
    pub names: bool,
    /// Write hex-based integer fields as `tshark -T fields` does (`0x0800` for
    /// eth.type, `0x0018` for tcp.flags); such columns become text
    #[arg(long)]
    pub display_base: bool,
    /// Seed of the `communityid` field (Community ID v1)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub community_id_seed: u16,
    /// Print the account (packets read, rows written, skipped, damaged) on standard error
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// No progress bar
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Which packets make rows for `stats`, `describe` and `unique` (the same
/// rows as `convert`), and how many threads work on them.
#[derive(Args, Debug, Clone)]
pub struct RowArgs {
    /// Rows for every packet (default: the tutorial's table, one row per IPv4 packet)
    #[arg(long)]
    pub all: bool,
    /// Threads doing the work, i.e. cores used (default: all cores; 1: everything on one thread); results are identical for any count
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StatsFormat {
    /// An aligned table for people
    #[default]
    Table,
    Csv,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvKind {
    Tcp,
    Udp,
    /// IPv4 address pairs
    Ip,
    /// IPv6 address pairs
    Ipv6,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortArg {
    /// By key, ascending
    Key,
    /// By the first aggregate, descending (ties by key)
    Value,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Keys and values are field names or aliases (`pcapx fields`) or the \
convert table's column names (src, dst, sport, dport, payload, len, ttl, time, …).\n\
Semantics follow pandas: rows whose key is absent are dropped (groupby dropna=True); an absent \
value is skipped by sum/mean/min/max/nunique (skipna); count is the group's row count (size()).\n\
Sums of integer fields are exact.\n\n\
Examples:\n  pcapx stats temp.pcap --group-by src --sum payload\n  \
pcapx stats temp.pcap --group-by src,dport --count --mean len --format csv\n  \
pcapx stats temp.pcap --group-by src --sum payload --plot src.svg"
)]
pub struct StatsArgs {
    /// Capture files (pcap or pcapng, optionally gzip/zstd compressed), directories (their
    /// capture files, in name order) or glob patterns, read in order as one stream (frame
    /// numbers continue as `mergecap -a` would number them); `-` reads standard input
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
    #[command(flatten)]
    pub live: LiveArgs,
    /// Stop after this many packets (counted after the filter)
    #[arg(short = 'c', long = "limit", value_name = "N")]
    pub limit: Option<u64>,
    /// Only packets matching this tcpdump/libpcap filter expression, e.g. 'tcp port 443'
    #[arg(short = 'f', long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Do not reassemble fragmented IP datagrams
    #[arg(long)]
    pub no_defrag: bool,
    /// Do not reassemble TCP segments into application PDUs, nor track QUIC
    /// connections
    #[arg(long)]
    pub no_desegment: bool,
    /// Group key field(s), comma-separated
    #[arg(
        long = "group-by",
        value_name = "FIELD[,FIELD…]",
        required_unless_present = "conversations"
    )]
    pub group_by: Vec<String>,
    /// Instead of a group-by: the conversations table of `tshark -z conv,tcp|udp|ip|ipv6`
    /// (frames and bytes each way, relative start, duration); default tcp
    #[arg(
        long,
        value_enum,
        value_name = "KIND",
        num_args = 0..=1,
        default_missing_value = "tcp",
        conflicts_with_all = ["group_by", "plot"]
    )]
    pub conversations: Option<ConvKind>,
    #[command(flatten)]
    pub aggs: Aggregates,
    /// Only the first N rows (after sorting); plots default to 20
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Row order (default: value)
    #[arg(long, value_enum)]
    pub sort: Option<SortArg>,
    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: StatsFormat,
    /// Bar chart of the first aggregate: OUT.svg, OUT.png, or `-` for bars in the terminal (instead of the table)
    #[arg(long, value_name = "OUT")]
    pub plot: Option<String>,
    #[command(flatten)]
    pub rows: RowArgs,
}

/// The aggregates of `stats`, in command-line order (the first one sorts).
#[derive(Debug, Clone, Default)]
pub struct Aggregates {
    /// (flag, field); the field is empty for `--count`.
    pub list: Vec<(AggFlag, String)>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AggFlag {
    Count,
    Sum,
    Mean,
    Min,
    Max,
    NUnique,
}

const AGG_FLAGS: [(&str, AggFlag, &str); 5] = [
    (
        "sum",
        AggFlag::Sum,
        "Sum of a numeric field per group (FIELD_sum)",
    ),
    (
        "mean",
        AggFlag::Mean,
        "Mean of a numeric field per group (FIELD_mean)",
    ),
    (
        "min",
        AggFlag::Min,
        "Minimum of a numeric field per group (FIELD_min)",
    ),
    (
        "max",
        AggFlag::Max,
        "Maximum of a numeric field per group (FIELD_max)",
    ),
    (
        "nunique",
        AggFlag::NUnique,
        "Number of distinct values of a field per group (FIELD_nunique)",
    ),
];

impl clap::FromArgMatches for Aggregates {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut found: Vec<(usize, AggFlag, String)> = Vec::new();
        for (id, flag, _) in AGG_FLAGS {
            if let (Some(vals), Some(idx)) = (m.get_many::<String>(id), m.indices_of(id)) {
                for (v, i) in vals.zip(idx) {
                    found.push((i, flag, v.clone()));
                }
            }
        }
        if m.get_flag("agg-count") {
            found.push((
                m.index_of("agg-count").unwrap_or(0),
                AggFlag::Count,
                String::new(),
            ));
        }
        found.sort_by_key(|f| f.0);
        Ok(Aggregates {
            list: found.into_iter().map(|(_, f, v)| (f, v)).collect(),
        })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for Aggregates {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for (id, _, help) in AGG_FLAGS {
            cmd = cmd.arg(
                clap::Arg::new(id)
                    .long(id)
                    .value_name("FIELD")
                    .action(clap::ArgAction::Append)
                    .help(help),
            );
        }
        cmd.arg(
            clap::Arg::new("agg-count")
                .long("count")
                .action(clap::ArgAction::SetTrue)
                .help("Rows per group (count); implied when no aggregate is given"),
        )
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DescribeFormat {
    /// pandas' layout: statistics down, fields across
    #[default]
    Table,
    Json,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Numbers (integers, booleans, times): count, mean, std (ddof=1), min, 25%, 50%, 75%, max \
with linear interpolation; text (addresses, MACs, strings, bytes): count, unique, top, freq (top: the most \
frequent value, the first seen among ties). The values equal pandas' describe() of the column of \
`pcapx convert` output read with pd.read_csv.\n\nExample:\n  pcapx describe temp.pcap --field payload --field src"
)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub input: Input,
    /// Field to describe (repeat, or comma-separate, for several)
    #[arg(long = "field", value_name = "F", required = true)]
    pub fields: Vec<String>,
    /// Output format; JSON is keyed by pandas' row names (nested by field when several)
    #[arg(long, value_enum, default_value_t)]
    pub format: DescribeFormat,
    #[command(flatten)]
    pub rows: RowArgs,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Absent values are not listed (like dropna()). With --counts the output is CSV: \
a header `FIELD,count`, then one `value,count` line per distinct value, still in first-seen order.\n\n\
Example:\n  pcapx unique temp.pcap --field dst --counts"
)]
pub struct UniqueArgs {
    #[command(flatten)]
    pub input: Input,
    /// The field whose distinct values to list
    #[arg(long = "field", value_name = "F")]
    pub field: String,
    /// Also print how often each value occurs
    #[arg(long)]
    pub counts: bool,
    #[command(flatten)]
    pub rows: RowArgs,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  pcapx filter in.pcap 'tcp and port 443' -o out.pcap\n  pcapx filter --dump 'tcp port 80'\n  pcapx filter --dump --linktype RAW 'ip and udp'"
)]
pub struct FilterArgs {
    /// `FILE EXPR` to filter a capture, or just `EXPR` with --dump
    #[arg(value_name = "FILE EXPR", num_args = 1..=2, required = true)]
    pub args: Vec<String>,
    /// Output capture (same format and headers as the input; uncompressed)
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Print the compiled program like `tcpdump -d` instead of filtering
    #[arg(long)]
    pub dump: bool,
    /// Link type for --dump: a libpcap name (EN10MB, RAW, LINUX_SLL, LINUX_SLL2, NULL, LOOP, IPV4, IPV6) or a number
    #[arg(long, value_name = "NAME|NUMBER", default_value = "EN10MB")]
    pub linktype: String,
    /// Snapshot length for --dump (the value an accepting `ret` returns)
    #[arg(long, value_name = "N", default_value_t = 262_144)]
    pub snaplen: u32,
    /// Print how many records were read and written on standard error
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Stop after writing this many matching records (`tcpdump -c`; with -i, ends the capture)
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub limit: Option<u64>,
    /// Capture live: `pcapx filter -i IFACE EXPR -o OUT` (writes pcapng; stops on -c, --duration or Ctrl-C)
    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(Args, Debug)]
pub struct PluginsArgs {
    /// JSON output
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct FollowArgs {
    #[command(flatten)]
    pub input: Input,
    /// The stream number (`tcp.stream` / `udp.stream`, as tshark numbers them)
    #[arg(long, value_name = "N")]
    pub stream: Option<u32>,
    /// Every stream, each direction to its own file in -o DIR, in one pass
    #[arg(long)]
    pub all: bool,
    /// With --all: the directory for the files (created if missing)
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// How the payload is printed (tshark's raw, ascii and hex)
    #[arg(long, value_enum, default_value_t = FollowFormat::Ascii)]
    pub format: FollowFormat,
    /// Follow a TCP stream or a UDP conversation
    #[arg(long, value_enum, default_value_t = FollowProto::Tcp)]
    pub proto: FollowProto,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowFormat {
    Raw,
    Ascii,
    Hex,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowProto {
    Tcp,
    Udp,
}

#[derive(Args, Debug)]
pub struct FlowsArgs {
    #[command(flatten)]
    pub input: Input,
    /// Output format (default: from the extension of -o, else csv)
    #[arg(long, value_enum)]
    pub to: Option<ToFormat>,
    /// Output file (default: standard output; Parquet needs a file)
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// How times are written in CSV/JSON
    #[arg(long, value_enum, default_value_t)]
    pub time_format: TimeFmt,
    /// End a flow after this many seconds without a packet (default: TCP 300, UDP 60,
    /// ICMP and others 60, as Zeek); applies to every protocol when given
    #[arg(long, value_name = "S")]
    pub idle_timeout: Option<f64>,
    /// End a flow this many seconds after its first packet; the next packet starts a new
    /// one (default 1800, as nfstream)
    #[arg(long, value_name = "S")]
    pub active_timeout: Option<f64>,
    /// Community ID seed
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub community_id_seed: u16,
    /// Worker threads (default: all cores); output is identical for any count
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Print the account (packets, flows, most concurrent flows) on standard error
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    Pcap,
    Pcapng,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimePrecision {
    Micro,
    #[default]
    Nano,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Needs root or CAP_NET_RAW. Stops after -c packets, after --duration, or on \
Ctrl-C / SIGTERM; the output file is complete in every case, and tcpdump's three counter lines \
(captured, received by filter, dropped by kernel) go to standard error. The filter runs in the \
kernel (SO_ATTACH_FILTER) where it can, else in user space with a note.\n\n\
Examples:\n  pcapx capture --list-interfaces\n  pcapx capture -i eth0 -c 10\n  \
pcapx capture -i eth0 -f 'tcp port 443' -w https.pcap\n  \
pcapx capture -i eth0 -i eth1 --duration 60 -w both.pcapng\n  \
pcapx capture -i any -w trace.pcapng --ring-size 100 --ring-files 10\n  \
pcapx capture -i eth0 -w - | pcapx summary -"
)]
pub struct CaptureArgs {
    /// Interface to capture on (repeat for several; `any` for all, as LINUX_SLL2 cooked capture)
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,
    /// List the interfaces (like `tcpdump -D`) and exit
    #[arg(short = 'D', long = "list-interfaces")]
    pub list: bool,
    /// Stop after this many packets (exactly N are written)
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this many seconds
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Only packets matching this tcpdump/libpcap filter expression, e.g. 'tcp port 443'
    #[arg(short = 'f', long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Bytes kept per packet (default 262144)
    #[arg(short = 's', long, value_name = "N", default_value_t = 262_144)]
    pub snaplen: u32,
    /// Kernel ring buffer per interface, MiB
    #[arg(short = 'B', long = "buffer", value_name = "MiB", default_value_t = 4)]
    pub buffer: u32,
    /// Do not put the interfaces in promiscuous mode
    #[arg(short = 'p', long = "no-promisc")]
    pub no_promisc: bool,
    /// Write packets to this capture file (`-` is standard output) instead of printing summaries
    #[arg(short = 'w', long = "write", value_name = "OUT")]
    pub output: Option<String>,
    /// Output format (default: from the extension of -w: .pcapng/.ntar is pcapng, else pcap)
    #[arg(long, value_enum)]
    pub format: Option<CaptureFormat>,
    /// Timestamp precision of the output file
    #[arg(long, value_enum, default_value_t)]
    pub time_precision: TimePrecision,
    /// Ring buffer: start a new file when the current one reaches this many MiB
    #[arg(long, value_name = "MiB")]
    pub ring_size: Option<u64>,
    /// Ring buffer: start a new file after this many seconds (checked when a packet arrives)
    #[arg(long, value_name = "S")]
    pub ring_seconds: Option<u64>,
    /// Ring buffer: keep only the last K files
    #[arg(long, value_name = "K")]
    pub ring_files: Option<u64>,
    /// Summaries: show port numbers instead of service names
    #[arg(short = 'n', long)]
    pub numeric: bool,
    /// No "listening on" line and no notes on standard error (the counters are still printed)
    #[arg(short = 'q', long)]
    pub quiet: bool,
}
