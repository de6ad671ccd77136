//! Recursive-descent parser for libpcap's `grammar.y`. Semantic actions run in
//! source order, as yacc runs them, and call the generator directly, so
//! layer-shifting primitives affect what follows them textually. Qualifiers of
//! the previous primitive flow to bare values after `and`/`or` (`host a or b`,
//! `tcp port 80 or 443`), exactly like the grammar's `$<blk>0.q`.

use crate::cfg::Cond;
use crate::codegen::{
    self, Addr, Arith, ArithV, Dir, Encap, GResult, Gen, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
    Pq, Qual, Relop,
};
use crate::error::FilterError;
use crate::insn::{
    BPF_ADD, BPF_ALU, BPF_AND, BPF_DIV, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_LSH, BPF_MOD, BPF_MUL,
    BPF_OR, BPF_RSH, BPF_SUB, BPF_X, BPF_XOR, Insn,
};
use crate::lexer::{Kw, Tok, Token};
use crate::names::{self, PortProto};

type PResult<T> = Result<T, FilterError>;

pub(crate) struct Parser {
    toks: Vec<Token>,
    pos: usize,
    pub g: Gen,
}

fn pq_of(kw: Kw) -> Option<Pq> {
    Some(match kw {
        Kw::Link => Pq::Link,
        Kw::Ip => Pq::Ip,
        Kw::Ip6 => Pq::Ip6,
        Kw::Arp => Pq::Arp,
        Kw::Rarp => Pq::Rarp,
        Kw::Tcp => Pq::Tcp,
        Kw::Udp => Pq::Udp,
        Kw::Sctp => Pq::Sctp,
        Kw::Icmp => Pq::Icmp,
        Kw::Icmp6 => Pq::Icmp6,
        Kw::Igmp => Pq::Igmp,
        Kw::Igrp => Pq::Igrp,
        Kw::Pim => Pq::Pim,
        Kw::Vrrp => Pq::Vrrp,
        Kw::Carp => Pq::Carp,
        Kw::Ah => Pq::Ah,
        Kw::Esp => Pq::Esp,
        Kw::Atalk => Pq::Atalk,
        Kw::Aarp => Pq::Aarp,
        Kw::Decnet => Pq::Decnet,
        Kw::Lat => Pq::Lat,
        Kw::Sca => Pq::Sca,
        Kw::Moprc => Pq::Moprc,
        Kw::Mopdl => Pq::Mopdl,
        Kw::Iso => Pq::Iso,
        Kw::Esis => Pq::Esis,
        Kw::Isis => Pq::Isis,
        Kw::IsisL1 => Pq::IsisL1,
        Kw::IsisL2 => Pq::IsisL2,
        Kw::IsisIih => Pq::IsisIih,
        Kw::IsisLsp => Pq::IsisLsp,
        Kw::IsisSnp => Pq::IsisSnp,
        Kw::IsisCsnp => Pq::IsisCsnp,
        Kw::IsisPsnp => Pq::IsisPsnp,
        Kw::Clnp => Pq::Clnp,
        Kw::Stp => Pq::Stp,
        Kw::Ipx => Pq::Ipx,
        Kw::Netbeui => Pq::Netbeui,
        Kw::Radio => Pq::Radio,
        _ => return None,
    })
}

fn is_qual_kw(kw: Kw) -> bool {
    matches!(
        kw,
        Kw::Src
            | Kw::Dst
            | Kw::Host
            | Kw::Net
            | Kw::Port
            | Kw::Portrange
            | Kw::Proto
            | Kw::Protochain
            | Kw::Gateway
            | Kw::Addr1
            | Kw::Addr2
            | Kw::Addr3
            | Kw::Addr4
            | Kw::Ra
            | Kw::Ta
    )
}

fn arith_op(t: &Tok) -> bool {
    matches!(
        t,
        Tok::Plus
            | Tok::Minus
            | Tok::Star
            | Tok::Slash
            | Tok::Percent
            | Tok::Amp
            | Tok::Pipe
            | Tok::Caret
            | Tok::Lsh
            | Tok::Rsh
            | Tok::Gt
            | Tok::Ge
            | Tok::Lt
            | Tok::Le
            | Tok::Eq
            | Tok::Ne
    )
}

fn what_after(addr: Option<Addr>) -> &'static str {
    match addr {
        Some(Addr::Net) => "a network address",
        Some(Addr::Port) => "a port number",
        Some(Addr::Portrange) => "a port range",
        Some(Addr::Proto | Addr::Protochain) => "a protocol",
        _ => "a host address",
    }
}

impl Parser {
    pub fn new(toks: Vec<Token>, g: Gen) -> Self {
        Self { toks, pos: 0, g }
    }

    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }
    fn peek_at(&self, n: usize) -> &Tok {
        self.toks.get(self.pos + n).map_or(&Tok::Eof, |t| &t.tok)
    }
    fn cur(&self) -> &Token {
        let last = self.toks.len().saturating_sub(1);
        &self.toks[self.pos.min(last)]
    }
    fn col(&self) -> usize {
        self.cur().col
    }
    fn bump(&mut self) -> Token {
        let t = self.cur().clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn unexpected<T>(&self, expected: &str) -> PResult<T> {
        let t = self.cur();
        let msg = if t.tok == Tok::Eof {
            format!("expected {expected}, found end of expression")
        } else {
            format!("expected {expected}, found '{}'", t.text)
        };
        Err(FilterError::new(msg, t.col))
    }
    fn at<T>(r: GResult<T>, col: usize) -> PResult<T> {
        r.map_err(|m| FilterError::new(m, col))
    }

    /// `prog: null expr | null`
    pub fn program(&mut self) -> PResult<Cond> {
        if *self.peek() == Tok::Eof {
            // no expression: libpcap returns its accept block, no test
            return Ok(Cond::Join);
        }
        let (c, _) = self.expr(Qual::ERR)?;
        if *self.peek() != Tok::Eof {
            return self.unexpected("'and', 'or' or the end of the expression");
        }
        Ok(c)
    }

    fn is_and(&self) -> bool {
        matches!(self.peek(), Tok::Kw(Kw::And) | Tok::AndAnd)
    }
    fn is_or(&self) -> bool {
        matches!(self.peek(), Tok::Kw(Kw::Or) | Tok::OrOr)
    }

    /// `expr: term | expr and term | expr and id | expr or term | expr or id`
    fn expr(&mut self, before: Qual) -> PResult<(Cond, Qual)> {
        let (mut c, mut q) = self.term(before)?;
        loop {
            let is_and = self.is_and();
            if !is_and && !self.is_or() {
                break;
            }
            let op = self.bump();
            let (c2, q2) = self.term_or_id(q, &op.text)?;
            c = if is_and {
                Cond::and(c, c2)
            } else {
                Cond::or(c, c2)
            };
            q = q2;
        }
        Ok((c, q))
    }

    /// Does an `id` (a bare value reusing qualifiers) start at `pos`?
    fn starts_id(&self, n: usize) -> bool {
        match self.peek_at(n) {
            Tok::Kw(Kw::Not) | Tok::Bang => self.starts_id(n + 1),
            Tok::Id(_) | Tok::Hid(_) | Tok::Hid6(_) | Tok::Eid(_) | Tok::Aid(_) => true,
            Tok::Num(_) => !arith_op(self.peek_at(n + 1)),
            Tok::LParen => self.starts_id(n + 1),
            _ => false,
        }
    }

    fn term_or_id(&mut self, q: Qual, after: &str) -> PResult<(Cond, Qual)> {
        if *self.peek() == Tok::Eof {
            return self.unexpected(&format!("a primitive after '{after}'"));
        }
        if self.starts_id(0) {
            self.id(q)
        } else {
            self.term(q)
        }
    }

    /// `term: rterm | not term`
    fn term(&mut self, before: Qual) -> PResult<(Cond, Qual)> {
        if matches!(self.peek(), Tok::Kw(Kw::Not) | Tok::Bang) {
            let op = self.bump();
            if *self.peek() == Tok::Eof {
                return self.unexpected(&format!("a primitive after '{}'", op.text));
            }
            let (c, q) = self.term(before)?;
            return Ok((Cond::not(c), q));
        }
        self.rterm(before)
    }

    /// `id: nid | pnum | paren pid ')'`, `nid: ID | HID ... | not id`
    fn id(&mut self, q: Qual) -> PResult<(Cond, Qual)> {
        let col = self.col();
        let t = self.cur().tok.clone();
        match t {
            Tok::Kw(Kw::Not) | Tok::Bang => {
                self.bump();
                let (c, q2) = self.id(q)?;
                Ok((Cond::not(c), q2))
            }
            Tok::Id(name) => {
                self.bump();
                Ok((self.scode(&name, q, col)?, q))
            }
            Tok::Hid(s) => {
                self.bump();
                if *self.peek() == Tok::Slash {
                    self.bump();
                    let Tok::Num(len) = *self.peek() else {
                        return self.unexpected("a mask length after '/'");
                    };
                    self.bump();
                    return Ok((self.mcode(&s, None, len, q, col)?, q));
                }
                if *self.peek() == Tok::Kw(Kw::Mask) {
                    self.bump();
                    let Tok::Hid(m) = self.peek().clone() else {
                        return self.unexpected("a netmask after 'mask'");
                    };
                    self.bump();
                    return Ok((self.mcode(&s, Some(&m), 0, q, col)?, q));
                }
                let which = match q.addr {
                    Some(Addr::Port) => Some("port"),
                    Some(Addr::Portrange) => Some("portrange"),
                    Some(Addr::Proto) => Some("proto"),
                    Some(Addr::Protochain) => Some("protochain"),
                    _ => None,
                };
                if let Some(w) = which {
                    return Err(FilterError::new(
                        format!("'{w}' modifier applied to ip host"),
                        col,
                    ));
                }
                Ok((self.ncode(Some(&s), 0, q, col)?, q))
            }
            Tok::Hid6(s) => {
                self.bump();
                let mut len = 128;
                if *self.peek() == Tok::Slash {
                    self.bump();
                    let Tok::Num(l) = *self.peek() else {
                        return self.unexpected("a prefix length after '/'");
                    };
                    self.bump();
                    len = l;
                }
                Ok((self.mcode6(&s, len, q, col)?, q))
            }
            Tok::Eid(mac) => {
                self.bump();
                if (q.addr == Some(Addr::Host) || q.addr == Some(Addr::Default))
                    && q.proto == Pq::Link
                {
                    Ok((Self::at(self.g.ehost(&mac, q.dir), col)?, q))
                } else {
                    Err(FilterError::new(
                        "ethernet address used in non-ether expression".into(),
                        col,
                    ))
                }
            }
            Tok::Aid(a) => {
                self.bump();
                if (q.addr == Some(Addr::Host) || q.addr == Some(Addr::Default))
                    && q.proto == Pq::Link
                {
                    Ok((Self::at(self.g.ahost_code(a, q.dir), col)?, q))
                } else {
                    Err(FilterError::new(
                        if self.g.is_arcnet() {
                            "ARCnet address used in non-arc expression".into()
                        } else {
                            "aid supported only on ARCnet".into()
                        },
                        col,
                    ))
                }
            }
            Tok::Num(v) => {
                self.bump();
                Ok((self.ncode(None, v, q, col)?, q))
            }
            Tok::LParen => {
                self.bump();
                let (mut c, _) = self.id(q)?;
                loop {
                    let is_and = self.is_and();
                    if !is_and && !self.is_or() {
                        break;
                    }
                    let op = self.bump();
                    if !self.starts_id(0) {
                        return self.unexpected(&format!("a value after '{}'", op.text));
                    }
                    let (c2, _) = self.id(q)?;
                    c = if is_and {
                        Cond::and(c, c2)
                    } else {
                        Cond::or(c, c2)
                    };
                }
                if *self.peek() != Tok::RParen {
                    return self.unexpected("')'");
                }
                self.bump();
                Ok((c, q))
            }
            _ => self.unexpected(what_after(q.addr)),
        }
    }

    fn undef(&self, col: usize, text: &str) -> FilterError {
        FilterError::new(
            format!(
                "'{text}' has no qualifier to reuse: the previous primitive has none (write e.g. 'host {text}')"
            ),
            col,
        )
    }

    /// libpcap's `gen_scode()`: an identifier in the context of `q`.
    fn scode(&mut self, name: &str, q: Qual, col: usize) -> PResult<Cond> {
        let Some(addr) = q.addr else {
            return Err(self.undef(col, name));
        };
        let r: GResult<Cond> = match addr {
            Addr::Net => Err(format!(
                "unknown network '{name}' (pcapx does not resolve network names)"
            )),
            Addr::Default | Addr::Host => {
                if q.proto == Pq::Link {
                    Err(format!(
                        "unknown ether host '{name}' (pcapx does not resolve host names)"
                    ))
                } else {
                    Err(format!(
                        "unknown host '{name}' (pcapx does not resolve host names; use a numeric address)"
                    ))
                }
            }
            Addr::Port => self.port_by_name(name, q),
            Addr::Portrange => self.portrange_by_name(name, q),
            Addr::Gateway => Err(format!(
                "'gateway {name}' needs the host's Ethernet and IP addresses from name lookups, which pcapx does not do"
            )),
            Addr::Proto => {
                codegen::lookup_proto(name, q.proto).and_then(|v| self.g.proto(v, q.proto, q.dir))
            }
            Addr::Protochain => {
                codegen::lookup_proto(name, q.proto).and_then(|v| self.g.protochain(v, q.proto))
            }
        };
        Self::at(r, col)
    }

    fn port_proto(q: Qual, what: &str) -> GResult<Option<u32>> {
        match q.proto {
            Pq::Udp => Ok(Some(IPPROTO_UDP)),
            Pq::Tcp => Ok(Some(IPPROTO_TCP)),
            Pq::Sctp => Ok(Some(IPPROTO_SCTP)),
            Pq::Default => Ok(None),
            _ => Err(format!("illegal qualifier of '{what}'")),
        }
    }

    /// Reconcile the qualifier with the transports a service name exists for.
    fn named_proto(q: Qual, pp: PortProto, what: &str) -> GResult<Option<u32>> {
        match (q.proto, pp) {
            (Pq::Udp, PortProto::Tcp) | (Pq::Sctp, PortProto::Tcp) => Err(format!("{what} is tcp")),
            (Pq::Tcp, PortProto::Udp) | (Pq::Sctp, PortProto::Udp) => Err(format!("{what} is udp")),
            (Pq::Default, PortProto::Tcp) => Ok(Some(IPPROTO_TCP)),
            (Pq::Default, PortProto::Udp) => Ok(Some(IPPROTO_UDP)),
            (Pq::Default, PortProto::Both) => Ok(None),
            _ => Self::port_proto(q, "port"),
        }
    }

    fn port_by_name(&self, name: &str, q: Qual) -> GResult<Cond> {
        Self::port_proto(q, "port")?;
        let (port, pp) = names::port(name).ok_or_else(|| format!("unknown port '{name}'"))?;
        let proto = Self::named_proto(q, pp, &format!("port '{name}'"))?;
        self.g.port(port, None, proto, q.dir)
    }

    fn portrange_by_name(&self, name: &str, q: Qual) -> GResult<Cond> {
        Self::port_proto(q, "portrange")?;
        let numeric = name
            .split_once('-')
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
        let (p1, p2, pp) = match numeric {
            Some((a, b)) => (a, b, PortProto::Both),
            None => {
                let err = || format!("unknown port in range '{name}'");
                let (a, b) = name.split_once('-').ok_or_else(err)?;
                // either end may be a number (getaddrinfo() resolves numeric
                // services for TCP and UDP alike) or a service name
                let lookup = |n: &str| {
                    n.parse::<u32>()
                        .ok()
                        // glibc truncates a numeric service to 16 bits
                        .map(|v| (v & 0xffff, PortProto::Both))
                        .or_else(|| names::port(n))
                };
                let (p1, t1) = lookup(a).ok_or_else(err)?;
                let (p2, t2) = lookup(b).ok_or_else(err)?;
                (p1, p2, if t1 == t2 { t1 } else { PortProto::Both })
            }
        };
        let proto = if numeric.is_some() {
            Self::port_proto(q, "portrange")?
        } else {
            Self::named_proto(q, pp, &format!("port in range '{name}'"))?
        };
        for p in [p1, p2] {
            if p > 65535 {
                return Err(format!("illegal port number {p} > 65535"));
            }
        }
        let (lo, hi) = if p1 <= p2 { (p1, p2) } else { (p2, p1) };
        self.g.port(lo, Some(hi), proto, q.dir)
    }

    /// libpcap's `gen_ncode()`: a number or dotted IPv4 value in the context of `q`.
    fn ncode(&mut self, s: Option<&str>, v: u32, q: Qual, col: usize) -> PResult<Cond> {
        let Some(addr) = q.addr else {
            let text = s.map_or_else(|| v.to_string(), str::to_string);
            return Err(self.undef(col, &text));
        };
        let (v, vlen) = match s {
            None => (v, 32),
            Some(s) if q.proto == Pq::Decnet => match codegen::atodn(s) {
                Some(a) => (a, 32),
                None => {
                    return Err(FilterError::new(
                        format!("malformed decnet address '{s}'"),
                        col,
                    ));
                }
            },
            Some(s) => match codegen::atoin(s) {
                Some(x) => x,
                None => {
                    return Err(FilterError::new(format!("invalid IPv4 address '{s}'"), col));
                }
            },
        };
        let r = match addr {
            Addr::Default | Addr::Host | Addr::Net if q.proto == Pq::Decnet => {
                self.g.host(v, 0, q.proto, q.dir, addr)
            }
            Addr::Default | Addr::Host | Addr::Net => {
                if q.proto == Pq::Link {
                    Err("illegal link layer address".to_string())
                } else {
                    let (mut v, mut mask) = (v, 0xffff_ffffu32);
                    if s.is_none() && addr == Addr::Net {
                        while v != 0 && v & 0xff00_0000 == 0 {
                            v <<= 8;
                            mask <<= 8;
                        }
                    } else {
                        let shift = 32 - vlen;
                        v = v.checked_shl(shift).unwrap_or(0);
                        mask = mask.checked_shl(shift).unwrap_or(0);
                    }
                    self.g.host(v, mask, q.proto, q.dir, addr)
                }
            }
            Addr::Port | Addr::Portrange => {
                let what = if addr == Addr::Port {
                    "port"
                } else {
                    "portrange"
                };
                Self::port_proto(q, what).and_then(|proto| {
                    if v > 65535 {
                        Err(format!("illegal port number {v} > 65535"))
                    } else {
                        self.g
                            .port(v, (addr == Addr::Portrange).then_some(v), proto, q.dir)
                    }
                })
            }
            Addr::Gateway => Err("'gateway' requires a name".to_string()),
            Addr::Proto => self.g.proto(v, q.proto, q.dir),
            Addr::Protochain => self.g.protochain(v, q.proto),
        };
        Self::at(r, col)
    }

    /// libpcap's `gen_mcode()`: `net A.B.C.D/len` and `net A.B.C.D mask M`.
    fn mcode(
        &mut self,
        s1: &str,
        s2: Option<&str>,
        masklen: u32,
        q: Qual,
        col: usize,
    ) -> PResult<Cond> {
        let invalid = |s: &str| FilterError::new(format!("invalid IPv4 address '{s}'"), col);
        let (n, nlen) = codegen::atoin(s1).ok_or_else(|| invalid(s1))?;
        let n = n.checked_shl(32 - nlen).unwrap_or(0);
        let m = if let Some(s2) = s2 {
            let (m, mlen) = codegen::atoin(s2).ok_or_else(|| invalid(s2))?;
            let m = m.checked_shl(32 - mlen).unwrap_or(0);
            if n & !m != 0 {
                return Err(FilterError::new(
                    format!("non-network bits set in \"{s1} mask {s2}\""),
                    col,
                ));
            }
            m
        } else {
            if masklen > 32 {
                return Err(FilterError::new("mask length must be <= 32".into(), col));
            }
            let m = if masklen == 0 {
                0
            } else {
                0xffff_ffffu32 << (32 - masklen)
            };
            if n & !m != 0 {
                return Err(FilterError::new(
                    format!("non-network bits set in \"{s1}/{masklen}\""),
                    col,
                ));
            }
            m
        };
        match q.addr {
            Some(Addr::Net) => Self::at(self.g.host(n, m, q.proto, q.dir, Addr::Net), col),
            _ => Err(FilterError::new(
                "Mask syntax for networks only".into(),
                col,
            )),
        }
    }

    /// libpcap's `gen_mcode6()`.
    fn mcode6(&mut self, s: &str, masklen: u32, q: Qual, col: usize) -> PResult<Cond> {
        let addr: std::net::Ipv6Addr = s
            .parse()
            .map_err(|_| FilterError::new(format!("invalid ip6 address {s}"), col))?;
        if masklen > 128 {
            return Err(FilterError::new("mask length must be <= 128".into(), col));
        }
        let bits = if masklen == 0 {
            0u128
        } else {
            u128::MAX << (128 - masklen)
        };
        let a = u128::from(addr);
        if a & !bits != 0 {
            return Err(FilterError::new(
                format!("non-network bits set in \"{s}/{masklen}\""),
                col,
            ));
        }
        let (ab, mb) = (a.to_be_bytes(), bits.to_be_bytes());
        let r = match q.addr {
            Some(Addr::Default | Addr::Host) if masklen != 128 => {
                Err("Mask syntax for networks only".to_string())
            }
            Some(a @ (Addr::Default | Addr::Host | Addr::Net)) => {
                self.g.host6(&ab, &mb, q.proto, q.dir, a)
            }
            _ => Err("invalid qualifier against IPv6 address".to_string()),
        };
        Self::at(r, col)
    }

    /// Optional `pnum` after `vlan`, `mpls`, `pppoes`, `geneve`, `vxlan`.
    fn opt_num(&mut self) -> Option<u32> {
        if let Tok::Num(v) = *self.peek() {
            self.bump();
            Some(v)
        } else {
            None
        }
    }

    fn expect_num(&mut self, after: &str) -> PResult<u32> {
        if let Tok::Num(v) = *self.peek() {
            self.bump();
            Ok(v)
        } else {
            self.unexpected(&format!("a number after '{after}'"))
        }
    }

    /// `rterm: head id | paren expr ')' | pname | arth relop arth | other`
    fn rterm(&mut self, before: Qual) -> PResult<(Cond, Qual)> {
        let col = self.col();
        let tok = self.cur().clone();
        match tok.tok {
            Tok::LParen => {
                let save = self.pos;
                // An abandoned relation attempt leaves libpcap's register
                // allocator as it found it: libpcap's parser never tried it
                // (its LALR parser reads `(` once), so the registers and the
                // allocator's position must not shift the numbers of the
                // code that follows.
                let regs = self.g.sim.borrow().clone();
                let arith_err = match self.relation() {
                    Ok(c) => return Ok((c, Qual::ERR)),
                    Err(e) => e,
                };
                *self.g.sim.borrow_mut() = regs;
                self.pos = save;
                self.bump();
                let r = self.expr(before).and_then(|(c, _)| {
                    if *self.peek() == Tok::RParen {
                        self.bump();
                        Ok(c)
                    } else {
                        self.unexpected("')'")
                    }
                });
                match r {
                    Ok(c) => Ok((c, before)),
                    Err(e) if arith_err.column > e.column => Err(arith_err),
                    Err(e) => Err(e),
                }
            }
            Tok::Num(_) | Tok::Minus | Tok::Kw(Kw::Len) => Ok((self.relation()?, Qual::ERR)),
            Tok::Kw(kw) => {
                if let Some(pq) = pq_of(kw) {
                    match self.peek_at(1) {
                        Tok::LBrack => Ok((self.relation()?, Qual::ERR)),
                        Tok::Kw(k2) if is_qual_kw(*k2) => {
                            self.bump();
                            self.head(pq)
                        }
                        Tok::Kw(Kw::Broadcast) => {
                            self.bump();
                            self.bump();
                            Ok((Self::at(self.g.broadcast(pq), col)?, Qual::ERR))
                        }
                        Tok::Kw(Kw::Multicast) => {
                            self.bump();
                            self.bump();
                            Ok((Self::at(self.g.multicast(pq), col)?, Qual::ERR))
                        }
                        // `pqual p80211`: the qualifier is ignored
                        Tok::Kw(k2 @ (Kw::Type | Kw::Subtype | Kw::Direction)) => {
                            let k2 = *k2;
                            self.bump();
                            let t = self.bump();
                            Ok((self.other(k2, &t.text, t.col)?, Qual::ERR))
                        }
                        _ => {
                            self.bump();
                            Ok((Self::at(self.g.proto_abbrev(pq), col)?, Qual::ERR))
                        }
                    }
                } else if is_qual_kw(kw) {
                    self.head(Pq::Default)
                } else {
                    self.bump();
                    Ok((self.other(kw, &tok.text, col)?, Qual::ERR))
                }
            }
            _ => self.unexpected("a filter primitive"),
        }
    }

    /// `other`: primitives without qualifiers.
    fn other(&mut self, kw: Kw, text: &str, col: usize) -> PResult<Cond> {
        let r: GResult<Cond> = match kw {
            Kw::Broadcast => self.g.broadcast(Pq::Default),
            Kw::Multicast => self.g.multicast(Pq::Default),
            Kw::Fisu | Kw::Lssu | Kw::Msu | Kw::Hfisu | Kw::Hlssu | Kw::Hmsu => {
                self.g.mtp2type(text)
            }
            Kw::Sio | Kw::Opc | Kw::Dpc | Kw::Sls | Kw::Hsio | Kw::Hopc | Kw::Hdpc | Kw::Hsls => {
                return self.mtp3value(text, col);
            }
            Kw::Vpi | Kw::Vci => return self.mtp3value(text, col),
            Kw::Lane
            | Kw::Metac
            | Kw::Bcc
            | Kw::Oam
            | Kw::Oamf4
            | Kw::Oamf4ec
            | Kw::Oamf4sc
            | Kw::Sc
            | Kw::Ilmic
            | Kw::Connectmsg
            | Kw::Metaconnect => self.g.atm_abbrev(text),
            Kw::Less => Ok(Gen::less(self.expect_num(text)?)),
            Kw::Greater => Ok(Gen::greater(self.expect_num(text)?)),
            Kw::Byte => {
                let idx = self.expect_num(text)?;
                let opc = match self.peek() {
                    Tok::Amp => '&',
                    Tok::Pipe => '|',
                    Tok::Lt => '<',
                    Tok::Gt => '>',
                    Tok::Eq => '=',
                    _ => return self.unexpected("one of '&', '|', '<', '>', '=' after 'byte N'"),
                };
                self.bump();
                let val = self.expect_num("byte N op")?;
                self.g.byteop(opc, idx, val)
            }
            Kw::Inbound => self.g.inbound(false),
            Kw::Outbound => self.g.inbound(true),
            Kw::Ifindex => {
                let n = self.expect_num(text)?;
                self.g.ifindex(n)
            }
            Kw::Vlan => {
                let id = self.opt_num();
                self.g.vlan(id)
            }
            Kw::Mpls => {
                let l = self.opt_num();
                self.g.mpls(l)
            }
            Kw::Pppoed => self.g.pppoed(),
            Kw::Pppoes => {
                let s = self.opt_num();
                self.g.pppoes(s)
            }
            Kw::Geneve | Kw::Vxlan => {
                let vni = self.opt_num();
                let kind = if kw == Kw::Geneve {
                    Encap::Geneve
                } else {
                    Encap::Vxlan
                };
                self.g.encap(kind, vni)
            }
            Kw::Llc => match self.peek().clone() {
                Tok::Id(sub) => {
                    self.bump();
                    let sub_lc = sub.to_ascii_lowercase();
                    match sub_lc.as_str() {
                        "i" => self.g.llc_i(),
                        "s" => self.g.llc_format(0x01),
                        "u" => self.g.llc_format(0x03),
                        "rr" => self.g.llc_subtype(0x01, 0x0f),
                        "rnr" => self.g.llc_subtype(0x05, 0x0f),
                        "rej" => self.g.llc_subtype(0x09, 0x0f),
                        _ => match sub_lc.as_str() {
                            "ui" => Ok(0x03),
                            "ua" => Ok(0x63),
                            "disc" => Ok(0x43),
                            "dm" => Ok(0x0f),
                            "sabme" => Ok(0x6f),
                            "test" => Ok(0xe3),
                            "xid" => Ok(0xaf),
                            "frmr" => Ok(0x87),
                            _ => Err(format!("unknown LLC type name \"{sub}\"")),
                        }
                        .and_then(|v| self.g.llc_subtype(v, 0xef)),
                    }
                }
                // "rnr" is a keyword for PF, as in libpcap's grammar
                Tok::Kw(Kw::Rnr) => {
                    self.bump();
                    self.g.llc_subtype(0x05, 0x0f)
                }
                _ => self.g.llc(),
            },
            Kw::Ifname | Kw::Rset | Kw::Reason | Kw::Action => {
                use crate::codegen::{PfField, pf_action, pf_reason};
                let value = match self.peek().clone() {
                    Tok::Id(s) => {
                        self.bump();
                        Err(s)
                    }
                    // libpcap's grammar: `reason NUM`; a number where a name
                    // is expected is the name spelt with digits
                    Tok::Num(n) => {
                        self.bump();
                        Ok(n)
                    }
                    _ => return self.unexpected(&format!("a name after '{text}'")),
                };
                let field = match (kw, &value) {
                    (Kw::Reason, Ok(n)) => Ok(PfField::Reason(*n)),
                    (Kw::Reason, Err(s)) => pf_reason(s)
                        .map(PfField::Reason)
                        .ok_or_else(|| format!("unknown PF reason \"{s}\"")),
                    (Kw::Action, Err(s)) => pf_action(s)
                        .map(PfField::Action)
                        .ok_or_else(|| format!("unknown PF action \"{s}\"")),
                    (Kw::Ifname, Err(s)) => Ok(PfField::Ifname(s)),
                    (Kw::Rset, Err(s)) => Ok(PfField::Ruleset(s)),
                    // libpcap's grammar wants an ID here
                    _ => Err("syntax error".to_string()),
                };
                field.and_then(|f| self.g.pf_field(f))
            }
            Kw::Rnr | Kw::Srnr => {
                let n = self.expect_num(text)?;
                self.g.pf_field(if kw == Kw::Rnr {
                    crate::codegen::PfField::Rnr(n)
                } else {
                    crate::codegen::PfField::Srnr(n)
                })
            }
            Kw::Type => {
                let t = self.wlan_type_value()?;
                if matches!(self.peek(), Tok::Kw(Kw::Subtype)) {
                    self.bump();
                    let st = self.wlan_subtype_value(Some(t))?;
                    self.g.wlan_type(t | st, 0x0c | 0xf0)
                } else {
                    self.g.wlan_type(t, 0x0c)
                }
            }
            Kw::Subtype => {
                let st = self.wlan_subtype_value(None)?;
                self.g.wlan_type(st, 0x0c | 0xf0)
            }
            Kw::Direction => {
                let d = match self.peek().clone() {
                    Tok::Num(v) => {
                        self.bump();
                        v
                    }
                    Tok::Id(name) => {
                        self.bump();
                        match name.to_ascii_lowercase().as_str() {
                            "nods" => 0,
                            "tods" => 1,
                            "fromds" => 2,
                            "dstods" => 3,
                            _ => {
                                return Err(FilterError::new(
                                    "unknown 802.11 direction".into(),
                                    col,
                                ));
                            }
                        }
                    }
                    _ => return self.unexpected("an 802.11 direction after 'dir'"),
                };
                self.g.wlan_dir(d)
            }
            _ => {
                return Err(FilterError::new(
                    format!("expected a filter primitive, found '{text}'"),
                    col,
                ));
            }
        };
        Self::at(r, col)
    }

    /// An 802.11 type after `type`: a number or `mgt`/`ctl`/`data` names.
    fn wlan_type_value(&mut self) -> PResult<u32> {
        let col = self.col();
        match self.peek().clone() {
            Tok::Num(v) => {
                self.bump();
                if v & !0x0c != 0 {
                    return Err(FilterError::new(
                        format!("invalid 802.11 type value 0x{v:02x}"),
                        col,
                    ));
                }
                Ok(v)
            }
            Tok::Id(name) => {
                self.bump();
                names::wlan_type(&name).ok_or_else(|| {
                    FilterError::new(format!("unknown 802.11 type name \"{name}\""), col)
                })
            }
            _ => self.unexpected("an 802.11 type after 'type'"),
        }
    }

    /// An 802.11 subtype: a number, a name of the subtypes of `of_type`, or
    /// (after a bare `subtype`) of any type, which it then includes.
    fn wlan_subtype_value(&mut self, of_type: Option<u32>) -> PResult<u32> {
        let col = self.col();
        match self.peek().clone() {
            Tok::Num(v) if of_type.is_some() => {
                self.bump();
                if v & !0xf0 != 0 {
                    return Err(FilterError::new(
                        format!("invalid 802.11 subtype value 0x{v:02x}"),
                        col,
                    ));
                }
                Ok(v)
            }
            Tok::Id(name) => {
                self.bump();
                match of_type {
                    Some(t) => names::wlan_subtype(t, &name).ok_or_else(|| {
                        FilterError::new(format!("unknown 802.11 subtype name \"{name}\""), col)
                    }),
                    None => [0x00, 0x04, 0x08]
                        .into_iter()
                        .find_map(|t| names::wlan_subtype(t, &name).map(|st| st | t))
                        .ok_or_else(|| FilterError::new("unknown 802.11 type name".into(), col)),
                }
            }
            _ => self.unexpected("an 802.11 subtype"),
        }
    }

    /// `mtp3field mtp3value`: `NUM`, `relop NUM` or `( NUM or NUM ... )`.
    fn mtp3value(&mut self, field: &str, col: usize) -> PResult<Cond> {
        let relop = |t: &Tok| match t {
            Tok::Gt => Some((BPF_JGT, false)),
            Tok::Ge => Some((BPF_JGE, false)),
            Tok::Eq => Some((BPF_JEQ, false)),
            Tok::Le => Some((BPF_JGT, true)),
            Tok::Lt => Some((BPF_JGE, true)),
            Tok::Ne => Some((BPF_JEQ, true)),
            _ => None,
        };
        if let Some((op, rev)) = relop(self.peek()) {
            self.bump();
            let v = self.expect_num(field)?;
            return Self::at(self.g.field_code(field, v, op, rev), col);
        }
        if matches!(self.peek(), Tok::LParen) {
            self.bump();
            let mut acc: Option<Cond> = None;
            loop {
                let vcol = self.col();
                let v = self.expect_num(field)?;
                let c = Self::at(self.g.field_code(field, v, BPF_JEQ, false), vcol)?;
                acc = Some(match acc {
                    None => c,
                    Some(a) => Cond::or(a, c),
                });
                if self.is_or() {
                    self.bump();
                    continue;
                }
                break;
            }
            if !matches!(self.peek(), Tok::RParen) {
                return self.unexpected("')'");
            }
            self.bump();
            return Ok(acc.unwrap_or(Cond::False));
        }
        let v = self.expect_num(field)?;
        Self::at(self.g.field_code(field, v, BPF_JEQ, false), col)
    }

    /// `head id` after an optional protocol qualifier.
    fn head(&mut self, pq: Pq) -> PResult<(Cond, Qual)> {
        let mut dir = Dir::Default;
        let mut addr = Addr::Default;
        let mut last = self.cur().text.clone();
        match self.peek().clone() {
            Tok::Kw(k @ (Kw::Src | Kw::Dst)) => {
                self.bump();
                let other = if k == Kw::Src { Kw::Dst } else { Kw::Src };
                dir = if k == Kw::Src { Dir::Src } else { Dir::Dst };
                let or = matches!(self.peek(), Tok::Kw(Kw::Or) | Tok::OrOr);
                let and = matches!(self.peek(), Tok::Kw(Kw::And) | Tok::AndAnd);
                if (or || and) && *self.peek_at(1) == Tok::Kw(other) {
                    self.bump();
                    last = self.bump().text;
                    dir = if or { Dir::Or } else { Dir::And };
                }
            }
            Tok::Kw(k @ (Kw::Addr1 | Kw::Addr2 | Kw::Addr3 | Kw::Addr4 | Kw::Ra | Kw::Ta)) => {
                self.bump();
                dir = match k {
                    Kw::Addr1 => Dir::Addr1,
                    Kw::Addr2 => Dir::Addr2,
                    Kw::Addr3 => Dir::Addr3,
                    Kw::Addr4 => Dir::Addr4,
                    Kw::Ra => Dir::Ra,
                    _ => Dir::Ta,
                };
            }
            _ => {}
        }
        let aqual = match self.peek() {
            Tok::Kw(Kw::Host) => Some(Addr::Host),
            Tok::Kw(Kw::Net) => Some(Addr::Net),
            Tok::Kw(Kw::Port) => Some(Addr::Port),
            Tok::Kw(Kw::Portrange) => Some(Addr::Portrange),
            Tok::Kw(Kw::Proto) if dir == Dir::Default => Some(Addr::Proto),
            Tok::Kw(Kw::Protochain) if dir == Dir::Default => Some(Addr::Protochain),
            Tok::Kw(Kw::Gateway) if dir == Dir::Default => Some(Addr::Gateway),
            _ => None,
        };
        if let Some(a) = aqual {
            last = self.bump().text;
            addr = a;
        } else if dir == Dir::Default {
            return self.unexpected("a qualifier");
        }
        let q = Qual {
            proto: pq,
            dir,
            addr: Some(addr),
        };
        if !self.starts_id(0) {
            return self.unexpected(&format!("{} after '{last}'", what_after(Some(addr))));
        }
        self.id(q)
    }

    // ----- arithmetic -----------------------------------------------------------

    /// `arth relop arth`
    fn relation(&mut self) -> PResult<Cond> {
        let a0 = self.arith()?;
        let col = self.col();
        let op = match self.peek() {
            Tok::Gt => Relop::Gt,
            Tok::Ge => Relop::Ge,
            Tok::Eq => Relop::Eq,
            Tok::Lt => Relop::Lt,
            Tok::Le => Relop::Le,
            Tok::Ne => Relop::Ne,
            _ => return self.unexpected("a comparison operator (=, !=, <, <=, >, >=)"),
        };
        self.bump();
        let a1 = self.arith()?;
        self.g.sim_free(a0.reg);
        self.g.sim_free(a1.reg);
        Self::at(codegen::relation(op, a0, a1, self.g.arith_slots()), col)
    }

    /// libpcap's gen_arth(): both operands' registers freed, one allocated
    /// for the result.
    fn arith_bin(&mut self, op: u16, a: ArithV, b: ArithV, col: usize) -> PResult<ArithV> {
        self.g.sim_free(a.reg);
        self.g.sim_free(b.reg);
        let reg = self.g.sim_alloc();
        let mut raw = a.raw.clone();
        raw.extend_from_slice(&b.raw);
        raw.extend([
            codegen::raw_ldx(b.reg),
            codegen::raw_ld(a.reg),
            Insn::stmt(BPF_ALU | op | BPF_X, 0),
            codegen::raw_st(reg),
        ]);
        let mut v = Self::at(codegen::arith_bin(op, a, b), col)?;
        v.reg = reg;
        v.raw = raw;
        Ok(v)
    }

    fn arith(&mut self) -> PResult<ArithV> {
        self.arith_level(0)
    }

    fn level_op(&self, level: u8) -> Option<u16> {
        match (level, self.peek()) {
            (0, Tok::Pipe) => Some(BPF_OR),
            (1, Tok::Amp) => Some(BPF_AND),
            (2, Tok::Lsh) => Some(BPF_LSH),
            (2, Tok::Rsh) => Some(BPF_RSH),
            (3, Tok::Plus) => Some(BPF_ADD),
            (3, Tok::Minus) => Some(BPF_SUB),
            (4, Tok::Star) => Some(BPF_MUL),
            (4, Tok::Slash) => Some(BPF_DIV),
            (4, Tok::Percent) => Some(BPF_MOD),
            _ => None,
        }
    }

    fn arith_level(&mut self, level: u8) -> PResult<ArithV> {
        if level > 4 {
            return self.unary();
        }
        let mut lhs = self.arith_level(level + 1)?;
        while let Some(op) = self.level_op(level) {
            let col = self.col();
            self.bump();
            let rhs = self.arith_level(level + 1)?;
            lhs = self.arith_bin(op, lhs, rhs, col)?;
        }
        Ok(lhs)
    }

    /// Unary minus, then a primary; `^` has no precedence in libpcap's grammar,
    /// so yacc always shifts it: its right operand extends as far as possible.
    fn unary(&mut self) -> PResult<ArithV> {
        let v = if *self.peek() == Tok::Minus {
            self.bump();
            let ArithV {
                e,
                guards,
                reg,
                mut raw,
            } = self.unary()?;
            let e = match e {
                Arith::Const(k) => Arith::Const(k.wrapping_neg()),
                other => Arith::Neg(Box::new(other)),
            };
            raw.extend([
                codegen::raw_ld(reg),
                Insn::stmt(BPF_ALU | crate::insn::BPF_NEG, 0),
                codegen::raw_st(reg),
            ]);
            ArithV {
                e,
                guards,
                reg,
                raw,
            }
        } else {
            self.primary()?
        };
        if *self.peek() == Tok::Caret {
            let col = self.col();
            self.bump();
            let rhs = self.arith()?;
            return self.arith_bin(BPF_XOR, v, rhs, col);
        }
        Ok(v)
    }

    fn primary(&mut self) -> PResult<ArithV> {
        let col = self.col();
        match self.peek().clone() {
            Tok::Num(v) => {
                self.bump();
                let reg = self.g.sim_alloc();
                Ok(ArithV {
                    e: Arith::Const(v),
                    guards: Vec::new(),
                    reg,
                    raw: vec![
                        Insn::stmt(crate::insn::BPF_LD | crate::insn::BPF_IMM, v),
                        codegen::raw_st(reg),
                    ],
                })
            }
            Tok::Kw(Kw::Len) => {
                self.bump();
                let reg = self.g.sim_alloc();
                Ok(ArithV {
                    e: Arith::Len,
                    guards: Vec::new(),
                    reg,
                    raw: vec![
                        Insn::stmt(crate::insn::BPF_LD | crate::insn::BPF_LEN, 0),
                        codegen::raw_st(reg),
                    ],
                })
            }
            Tok::LParen => {
                self.bump();
                let v = self.arith()?;
                if *self.peek() != Tok::RParen {
                    return self.unexpected("')'");
                }
                self.bump();
                Ok(v)
            }
            Tok::Kw(kw) if pq_of(kw).is_some() && *self.peek_at(1) == Tok::LBrack => {
                let pq = pq_of(kw).unwrap_or(Pq::Default);
                self.bump();
                self.bump();
                let idx = self.arith()?;
                let mut size = 1;
                if *self.peek() == Tok::Colon {
                    self.bump();
                    size = self.expect_num(":")?;
                }
                if *self.peek() != Tok::RBrack {
                    return self.unexpected("']'");
                }
                self.bump();
                Self::at(self.g.load(pq, idx, size), col)
            }
            _ => self.unexpected("an arithmetic expression"),
        }
    }
}
