//! pcapx-filter: the tcpdump/libpcap filter language (pcap-filter(7)) compiled to
//! classic BPF, plus a safe BPF interpreter. Pure Rust, no libpcap.
//!
//! * [`compile`] / [`compile_with`] turn an expression into a [`Program`] for a
//!   link type, with libpcap 1.10's semantics (its `gencode.c` is the model).
//!   `geneve [vni]` (libpcap 1.10) and `vxlan [vni]` (libpcap 1.11) make the rest
//!   of the expression apply to the encapsulated packet; its offsets are computed
//!   at run time into scratch registers, as libpcap does.
//! * [`Program::matches`] / [`Program::run`] execute it on a captured record the
//!   way `pcap_offline_filter()` does; [`Program::dump`] prints it like `tcpdump -d`.
//! * [`Insn`] is `struct sock_filter`, so [`Program::insns`] can be attached to a
//!   socket with `SO_ATTACH_FILTER`.
//! * [`FilterError`] carries the column of the offending token and can
//!   [`render`](FilterError::render) the expression with a caret.
//! * [`validate`] and [`run`] check and execute any classic BPF program.
//!
//! Architecture invariants: compiling and running never panic on any input; running
//! never allocates; a fault while running (out-of-bounds load, division by zero)
//! rejects the packet; scratch memory starts zeroed (libpcap leaves it
//! uninitialised, which only matters for `geneve`/`vxlan` inside an `or`, where
//! later tests may read offsets that were never computed).

mod cfg;
mod codegen;
mod error;
pub mod insn;
mod lexer;
mod linktypes;
mod names;
mod parser;
mod vm;

pub use codegen::{NullByteOrder, PROTOCHAIN_STEPS};
pub use error::{FilterError, FilterErrorKind};
pub use insn::Insn;
pub use vm::{Ancillary, ValidateError, run, run_with, validate};

/// Default snapshot length (what a program returns for an accepted packet).
pub const DEFAULT_SNAPLEN: u32 = 262_144;

/// A compiled, validated filter program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    insns: Vec<Insn>,
    linktype: u32,
    /// The instructions decoded once for [`Program::run`].
    decoded: vm::Decoded,
}

impl Program {
    /// Build a program from raw instructions (for example read from elsewhere),
    /// after checking it with [`validate`].
    ///
    /// # Errors
    /// The validation error.
    pub fn from_insns(insns: Vec<Insn>, linktype: u32) -> Result<Self, ValidateError> {
        validate(&insns)?;
        let decoded = vm::Decoded::new(&insns);
        Ok(Self {
            insns,
            linktype,
            decoded,
        })
    }

    /// The instructions (`struct sock_filter` layout).
    #[must_use]
    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// The link type the program was compiled for.
    #[must_use]
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// Run on one record: `data` is the captured bytes, `wirelen` the original
    /// length. Returns the snap length for an accepted packet, 0 for a rejected one.
    #[must_use]
    pub fn run(&self, data: &[u8], wirelen: u32) -> u32 {
        self.decoded.run(data, wirelen, &Ancillary::default())
    }

    /// Does the record pass the filter?
    #[must_use]
    pub fn matches(&self, data: &[u8], wirelen: u32) -> bool {
        self.run(data, wirelen) != 0
    }

    /// [`Program::run`] with the socket metadata a live capture knows, for
    /// the ancillary loads (`ldh [type]`) of programs compiled with
    /// [`Options::live`].
    #[must_use]
    pub fn run_with(&self, data: &[u8], wirelen: u32, aux: &Ancillary) -> u32 {
        self.decoded.run(data, wirelen, aux)
    }

    /// The program in `tcpdump -d` format, one instruction per line.
    #[must_use]
    pub fn dump(&self) -> String {
        insn::dump(&self.insns)
    }
}

/// Compilation settings beyond the expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// DLT / LINKTYPE number of the records the program will see.
    pub linktype: u32,
    /// Value returned for accepted packets (0 is replaced by [`DEFAULT_SNAPLEN`]).
    pub snaplen: u32,
    /// Byte order of the address family word of `DLT_NULL` records.
    pub null_byte_order: NullByteOrder,
    /// Compile for a live Linux capture rather than a savefile: `inbound` and
    /// `outbound` on Ethernet read the packet type from the socket
    /// (`ldh [type]`), as libpcap does; run such programs with
    /// [`Program::run_with`] and the packet's [`Ancillary`] data.
    pub live: bool,
}

impl Options {
    /// Options for a link type with the default snap length.
    #[must_use]
    pub fn new(linktype: u32) -> Self {
        Self {
            linktype,
            snaplen: DEFAULT_SNAPLEN,
            null_byte_order: NullByteOrder::Either,
            live: false,
        }
    }
}

/// Compile `expr` for records of `linktype`; accepted packets return `snaplen`
/// (0 means [`DEFAULT_SNAPLEN`]). An empty expression accepts everything.
///
/// # Errors
/// Syntax errors, semantic errors (libpcap's checks: port ranges, non-network
/// bits, qualifiers that do not fit, primitives the link type cannot carry), an
/// unsupported link type, and expressions that reject every packet.
pub fn compile(expr: &str, linktype: u32, snaplen: u32) -> Result<Program, FilterError> {
    compile_with(
        expr,
        &Options {
            snaplen,
            ..Options::new(linktype)
        },
    )
}

/// [`compile`] with all [`Options`].
///
/// # Errors
/// See [`compile`].
pub fn compile_with(expr: &str, opts: &Options) -> Result<Program, FilterError> {
    let toks = lexer::tokenize(expr)?;
    // `protochain` walks are unrolled (classic BPF cannot loop backwards): as
    // many header steps as fit in BPF_MAXINSNS, estimated from a first pass.
    let (first, cost) = compile_steps(toks.clone(), opts, MIN_PROTOCHAIN_STEPS)?;
    let too_long = |p: &Program| {
        FilterError::new(
            format!(
                "expression too complex: {} instructions, more than the maximum {}",
                p.insns.len(),
                insn::BPF_MAXINSNS
            ),
            1,
        )
    };
    // instructions per step: about 19 for an IPv4 walk, 36 for an IPv6 walk
    let mut steps = (3900 / cost.max(1)).clamp(MIN_PROTOCHAIN_STEPS, PROTOCHAIN_STEPS);
    if cost == 0 || steps == MIN_PROTOCHAIN_STEPS {
        if first.insns.len() > insn::BPF_MAXINSNS {
            return Err(too_long(&first));
        }
        return Ok(first);
    }
    loop {
        match compile_steps(toks.clone(), opts, steps) {
            Ok((p, _)) if p.insns.len() <= insn::BPF_MAXINSNS => return Ok(p),
            Ok(_) if steps > MIN_PROTOCHAIN_STEPS => {
                steps = (steps * 3 / 4).max(MIN_PROTOCHAIN_STEPS);
            }
            Ok((p, _)) => return Err(too_long(&p)),
            Err(e) => return Err(e),
        }
    }
}

/// Rewrites every scratch memory slot `k` as `perm[k]` (a permutation, so the
/// program computes the same thing).
/// Slots marked [`codegen::RAW_REG`] already have libpcap's number.
fn renumber_scratch(insns: &mut [Insn], perm: Option<&[u32; 16]>) {
    use insn::{BPF_LD, BPF_LDX, BPF_MEM, BPF_ST, BPF_STX, class, mode};
    for i in insns {
        let mem = matches!(class(i.code), BPF_ST | BPF_STX)
            || (matches!(class(i.code), BPF_LD | BPF_LDX) && mode(i.code) == BPF_MEM);
        if !mem {
            continue;
        }
        if i.k & codegen::RAW_REG != 0 {
            i.k &= !codegen::RAW_REG;
        } else if let Some(&to) = perm.and_then(|p| p.get(i.k as usize)) {
            i.k = to;
        }
    }
}

/// The fewest `protochain` header steps pcapx unrolls.
const MIN_PROTOCHAIN_STEPS: usize = 8;

/// Compile with `steps` unrolled `protochain` header steps; also returns the
/// estimated instructions per step (0 without `protochain`). The program is
/// validated except for its length.
fn compile_steps(
    toks: Vec<lexer::Token>,
    opts: &Options,
    steps: usize,
) -> Result<(Program, usize), FilterError> {
    let mut g = codegen::Gen::new(opts.linktype, opts.null_byte_order)
        .map_err(|m| FilterError::new(m, 1))?;
    g.protochain_steps = steps;
    g.live = opts.live;
    let mut p = parser::Parser::new(toks, g);
    let cond = p.program()?;
    let snaplen = if opts.snaplen == 0 {
        DEFAULT_SNAPLEN
    } else {
        opts.snaplen
    };
    // A run-time header-length prologue (PFLOG, 802.11) is impure, so the
    // optimiser never removes it: decide "rejects all packets" on the
    // expression alone (whose register loads it treats as unknown anyway).
    let bare = p.g.has_prologue(&cond).then(|| cond.clone());
    let cond = p.g.with_ppi_check(p.g.with_prologue(cond));
    let plain = p.g.no_optimize.get() || p.g.used_encap;
    // Without the prologue, the header-length registers hold one value for
    // the whole run: blocks reading them are pure (libpcap's optimiser sees
    // through them too, e.g. `tcp and udp` on PFLOG), unless a protochain
    // walk carries state in scratch slots.
    let bare_floor = if p.g.used_protochain.get() {
        p.g.scratch_limit()
    } else {
        16
    };
    let rejects_all =
        !plain && bare.is_some_and(|b| cfg::compile(&b, snaplen, bare_floor, 0).is_none());
    let mut compiled = if rejects_all {
        None
    } else if plain {
        // libpcap turned its optimiser off for this expression: its program
        // is the code generator's, test for test.
        Some(cfg::compile_plain(&cond, snaplen, p.g.scratch_limit()))
    } else {
        cfg::compile(&cond, snaplen, p.g.scratch_limit(), p.g.prologue_regs())
    };
    // libpcap's register numbers for the run-time offsets.
    if let Some(insns) = compiled.as_mut() {
        let perm = p.g.sim.borrow().permutation();
        renumber_scratch(insns, perm.as_ref());
    }
    let insns = match compiled {
        Some(insns) => insns,
        // libpcap reports this only when its optimizer proves it, which it never
        // does through a protochain loop; such programs simply reject everything.
        // Likewise for geneve/vxlan, for which libpcap turns its optimizer off.
        None if p.g.used_protochain.get() || p.g.used_encap => {
            vec![Insn::stmt(insn::BPF_RET | insn::BPF_K, 0)]
        }
        None => return Err(FilterError::rejects_all()),
    };
    // The code generator only emits valid programs; checking keeps the promise
    // that a Program always validates.
    match validate(&insns) {
        Ok(()) | Err(ValidateError::TooLong(_)) => {}
        Err(e) => {
            return Err(FilterError::new(
                format!("internal error: generated an invalid program: {e}"),
                1,
            ));
        }
    }
    Ok((
        Program {
            decoded: vm::Decoded::new(&insns),
            insns,
            linktype: opts.linktype,
        },
        p.g.protochain_cost.get(),
    ))
}

/// Resolve a link type name as `tcpdump -y` does (libpcap's
/// `pcap_datalink_name_to_val()`: `EN10MB`, `RAW`, `C_HDLC`, `IEEE802_11_RADIO`,
/// ... any case, optionally with a `DLT_`/`LINKTYPE_` prefix; also `ETHERNET`,
/// `SLL`, `SLL2`) or a decimal number (a LINKTYPE_ value).
#[must_use]
pub fn linktype_from_name(name: &str) -> Option<u32> {
    let t = name.trim();
    if let Ok(n) = t.parse::<u32>() {
        return Some(n);
    }
    let up = t.to_ascii_uppercase();
    let bare = up
        .strip_prefix("DLT_")
        .or_else(|| up.strip_prefix("LINKTYPE_"))
        .unwrap_or(&up);
    match bare {
        "ETHERNET" => Some(codegen::DLT_EN10MB),
        "SLL" => Some(codegen::DLT_LINUX_SLL),
        "SLL2" => Some(codegen::DLT_LINUX_SLL2),
        "CHDLC" => Some(104),
        "PPP_HDLC" => Some(50),
        _ => linktypes::by_name(bare),
    }
}

/// Every link type name libpcap knows, with its DLT value on Linux and its
/// description (for `--linktype` help and error messages).
pub fn linktype_names() -> impl Iterator<Item = (&'static str, u32, &'static str)> {
    linktypes::DLTS.iter().map(|(v, n, d)| (*n, *v, *d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linktype_names() {
        assert_eq!(linktype_from_name("EN10MB"), Some(1));
        assert_eq!(linktype_from_name("dlt_raw"), Some(12));
        assert_eq!(linktype_from_name("LINUX_SLL"), Some(113));
        assert_eq!(linktype_from_name("LINKTYPE_LINUX_SLL2"), Some(276));
        assert_eq!(linktype_from_name("NULL"), Some(0));
        assert_eq!(linktype_from_name("101"), Some(101));
        assert_eq!(linktype_from_name("bogus"), None);
        assert_eq!(linktype_from_name("C_HDLC"), Some(104));
        assert_eq!(linktype_from_name("ieee802_11_radio"), Some(127));
        assert_eq!(linktype_from_name("DLT_PPP_SERIAL"), Some(50));
        assert_eq!(linktype_from_name("DSA_TAG_EDSA"), Some(285));
    }
}
