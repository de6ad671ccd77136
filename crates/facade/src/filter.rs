//! The packet filter applied by every command that reads captures
//! (`--filter EXPR`): tcpdump/libpcap syntax compiled to classic BPF by
//! `pcapx-filter` and run on the raw record, like `pcap_offline_filter`.
//! A pcapng file with several link types gets one program per link type,
//! compiled on first use.

use pcapx_capture::Record;
use pcapx_filter::{FilterError, Program};

use crate::Error;

type Result<T> = std::result::Result<T, Error>;

/// Link types used to check an expression before any packet is read: an
/// expression that compiles for neither is wrong whatever the capture holds.
const PROBE_LINKTYPES: [u32; 2] = [1, 101];

pub struct PacketFilter {
    /// The capture, for error messages.
    file: String,
    expr: Option<String>,
    /// (link type, program) compiled so far; a capture has very few. `None`:
    /// the expression rejects every packet of that link type.
    programs: Vec<(u32, Option<Program>)>,
    /// The capture has interfaces of several link types (pcapng).
    multi_linktype: bool,
    /// A live capture: its source already applied the expression (in the
    /// kernel, or in user space with the socket's packet metadata), so every
    /// record it delivers passes.
    prefiltered: bool,
}

/// `filter: <message>` plus the expression with a caret under the column.
pub fn filter_error(expr: &str, e: &FilterError) -> Error {
    Error::Filter(Box::new(crate::FilterFailure {
        expr: expr.to_owned(),
        message: e.to_string(),
        caret: indent(&e.render(expr)),
        at: None,
    }))
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl PacketFilter {
    /// No expression: every record passes. An expression that compiles for no
    /// link type at all (a syntax error) fails here, before any packet.
    /// The filter for reading `cap`. In a capture with several link types, an
    /// expression that rejects every packet of one of them (`not ip` on raw
    /// IPv4) simply matches nothing there; in a single-link-type capture it is
    /// libpcap's error "expression rejects all packets".
    pub fn for_capture(
        file: &str,
        expr: Option<&str>,
        cap: &pcapx_capture::Capture,
    ) -> Result<PacketFilter> {
        let mut lts: Vec<u32> = cap.info().interfaces.iter().map(|i| i.linktype).collect();
        lts.sort_unstable();
        lts.dedup();
        // A live capture's link types are known before any packet: the
        // source filters (the expression was checked when it opened).
        if cap.is_live() && !lts.is_empty() {
            return PacketFilter::live(file, expr, &lts);
        }
        let mut f = PacketFilter::new(file, expr)?;
        f.multi_linktype = lts.len() > 1;
        Ok(f)
    }

    pub fn new(file: &str, expr: Option<&str>) -> Result<PacketFilter> {
        Self::with_probes(file, expr, &PROBE_LINKTYPES)
    }

    /// The filter of a live capture on interfaces of link types `linktypes`:
    /// the expression must compile for one of them with live semantics
    /// (`inbound`/`outbound` on Ethernet read the socket's packet type); the
    /// live source applies it, so records pass through.
    pub fn live(file: &str, expr: Option<&str>, linktypes: &[u32]) -> Result<PacketFilter> {
        let mut f = Self::checked(file, expr, linktypes, true)?;
        f.prefiltered = true;
        Ok(f)
    }

    /// [`PacketFilter::new`], checking the expression against `probes`
    /// (link types) instead of Ethernet and raw IP.
    pub fn with_probes(file: &str, expr: Option<&str>, probes: &[u32]) -> Result<PacketFilter> {
        Self::checked(file, expr, probes, false)
    }

    fn checked(file: &str, expr: Option<&str>, probes: &[u32], live: bool) -> Result<PacketFilter> {
        let expr = expr.map(str::trim).filter(|e| !e.is_empty());
        if let Some(e) = expr {
            let mut first_err = None;
            for &lt in probes {
                let opts = pcapx_filter::Options {
                    snaplen: 0,
                    live,
                    ..pcapx_filter::Options::new(lt)
                };
                match pcapx_filter::compile_with(e, &opts) {
                    Ok(_) => {
                        first_err = None;
                        break;
                    }
                    Err(err) => {
                        if first_err.is_none() {
                            first_err = Some(err);
                        }
                    }
                }
            }
            if let Some(err) = first_err {
                return Err(filter_error(e, &err));
            }
        }
        Ok(PacketFilter {
            file: file.to_owned(),
            expr: expr.map(str::to_owned),
            programs: Vec::new(),
            multi_linktype: false,
            prefiltered: false,
        })
    }

    /// Does the record pass? The program for its link type is compiled on first
    /// use; an expression that makes no sense for that link type (`ether host`
    /// on raw IP) is an error naming the packet, as libpcap refuses it.
    /// Every record passes: no expression, or the kernel applied it.
    pub fn passes_all(&self) -> bool {
        self.expr.is_none() || self.prefiltered
    }

    #[inline]
    pub fn matches(&mut self, rec: &Record<'_>) -> Result<bool> {
        let Some(expr) = &self.expr else {
            return Ok(true);
        };
        if self.prefiltered {
            return Ok(true);
        }
        let file = &self.file;
        let prog = match self.programs.iter().position(|(lt, _)| *lt == rec.linktype) {
            Some(i) => &self.programs[i].1,
            None => {
                let p = match pcapx_filter::compile(expr, rec.linktype, 0) {
                    Ok(p) => Some(p),
                    Err(e)
                        if self.multi_linktype
                            && e.kind == pcapx_filter::FilterErrorKind::RejectsAll =>
                    {
                        None
                    }
                    Err(e) => {
                        let mut err = filter_error(expr, &e);
                        if let Error::Filter(f) = &mut err {
                            f.at = Some(format!(
                                "{file}: packet {}: link type {} ({})",
                                rec.number,
                                rec.linktype,
                                crate::linktype_name(rec.linktype)
                            ));
                        }
                        return Err(err);
                    }
                };
                self.programs.push((rec.linktype, p));
                &self.programs[self.programs.len() - 1].1
            }
        };
        Ok(prog
            .as_ref()
            .is_some_and(|p| p.matches(rec.data, rec.wirelen)))
    }
}
