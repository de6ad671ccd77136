//! Tokenizer for the pcap-filter(7) language, following libpcap's `scanner.l`:
//! identifiers may contain `-`, `_` and `.`, named constants such as `tcp-syn`
//! are numbers, `\name` escapes a keyword into an identifier, and numbers may
//! be decimal, `0x` hexadecimal or `0` octal.

use crate::error::FilterError;

/// Keywords of the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kw {
    Dst,
    Src,
    Link,
    Arp,
    Rarp,
    Ip,
    Sctp,
    Tcp,
    Udp,
    Icmp,
    Igmp,
    Igrp,
    Pim,
    Vrrp,
    Carp,
    Ip6,
    Icmp6,
    Ah,
    Esp,
    Atalk,
    Aarp,
    Decnet,
    Lat,
    Sca,
    Moprc,
    Mopdl,
    Iso,
    Esis,
    Isis,
    IsisL1,
    IsisL2,
    IsisIih,
    IsisLsp,
    IsisSnp,
    IsisCsnp,
    IsisPsnp,
    Clnp,
    Stp,
    Ipx,
    Netbeui,
    Radio,
    Host,
    Net,
    Mask,
    Port,
    Portrange,
    Proto,
    Protochain,
    Gateway,
    Less,
    Greater,
    Byte,
    Broadcast,
    Multicast,
    And,
    Or,
    Not,
    Len,
    Inbound,
    Outbound,
    Ifindex,
    Vlan,
    Mpls,
    Pppoed,
    Pppoes,
    Geneve,
    Vxlan,
    Llc,
    Ifname,
    Rnr,
    Reason,
    Rset,
    Srnr,
    Action,
    Type,
    Subtype,
    Direction,
    Addr1,
    Addr2,
    Addr3,
    Addr4,
    Ra,
    Ta,
    Lane,
    Metac,
    Bcc,
    Oam,
    Oamf4,
    Oamf4ec,
    Oamf4sc,
    Sc,
    Ilmic,
    Vpi,
    Vci,
    Connectmsg,
    Metaconnect,
    Fisu,
    Lssu,
    Msu,
    Hfisu,
    Hlssu,
    Hmsu,
    Sio,
    Opc,
    Dpc,
    Sls,
    Hsio,
    Hopc,
    Hdpc,
    Hsls,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Num(u32),
    /// Dotted IPv4 address or prefix (`10.1`, `1.2.3.4`).
    Hid(String),
    /// IPv6 address.
    Hid6(String),
    /// MAC address, normalised to its 6 bytes.
    Eid([u8; 6]),
    /// ARCnet or MS/TP one-byte address (`$c0`).
    Aid(u8),
    Id(String),
    Kw(Kw),
    LParen,
    RParen,
    LBrack,
    RBrack,
    Colon,
    Bang,
    AndAnd,
    OrOr,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Amp,
    Pipe,
    Caret,
    Lsh,
    Rsh,
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
    Eof,
}

/// A token with the 1-based column where it starts and its source text.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub col: usize,
    pub text: String,
}

fn keyword(word: &str) -> Option<Tok> {
    use Kw::*;
    let kw = match word {
        "dst" => Dst,
        "src" => Src,
        "link" | "ether" | "ppp" | "slip" | "fddi" | "tr" | "wlan" => Link,
        "arp" => Arp,
        "rarp" => Rarp,
        "ip" => Ip,
        "sctp" => Sctp,
        "tcp" => Tcp,
        "udp" => Udp,
        "icmp" => Icmp,
        "igmp" => Igmp,
        "igrp" => Igrp,
        "pim" => Pim,
        "vrrp" => Vrrp,
        "carp" => Carp,
        "ip6" => Ip6,
        "icmp6" => Icmp6,
        "ah" => Ah,
        "esp" => Esp,
        "atalk" => Atalk,
        "aarp" => Aarp,
        "decnet" => Decnet,
        "lat" => Lat,
        "sca" => Sca,
        "moprc" => Moprc,
        "mopdl" => Mopdl,
        "iso" => Iso,
        "esis" | "es-is" => Esis,
        "isis" | "is-is" => Isis,
        "l1" => IsisL1,
        "l2" => IsisL2,
        "iih" => IsisIih,
        "lsp" => IsisLsp,
        "snp" => IsisSnp,
        "csnp" => IsisCsnp,
        "psnp" => IsisPsnp,
        "clnp" => Clnp,
        "stp" => Stp,
        "ipx" => Ipx,
        "netbeui" => Netbeui,
        "radio" => Radio,
        "host" => Host,
        "net" => Net,
        "mask" => Mask,
        "port" => Port,
        "portrange" => Portrange,
        "proto" => Proto,
        "protochain" => Protochain,
        "gateway" => Gateway,
        "less" => Less,
        "greater" => Greater,
        "byte" => Byte,
        "broadcast" => Broadcast,
        "multicast" => Multicast,
        "and" => And,
        "or" => Or,
        "not" => Not,
        "len" | "length" => Len,
        "inbound" => Inbound,
        "outbound" => Outbound,
        "ifindex" => Ifindex,
        "vlan" => Vlan,
        "mpls" => Mpls,
        "pppoed" => Pppoed,
        "pppoes" => Pppoes,
        "geneve" => Geneve,
        "vxlan" => Vxlan,
        "llc" => Llc,
        "on" | "ifname" => Ifname,
        "rnr" | "rulenum" => Rnr,
        "reason" => Reason,
        "rset" | "ruleset" => Rset,
        "srnr" | "subrulenum" => Srnr,
        "action" => Action,
        "type" => Type,
        "subtype" => Subtype,
        "direction" | "dir" => Direction,
        "address1" | "addr1" => Addr1,
        "address2" | "addr2" => Addr2,
        "address3" | "addr3" => Addr3,
        "address4" | "addr4" => Addr4,
        "ra" => Ra,
        "ta" => Ta,
        "lane" => Lane,
        "metac" => Metac,
        "bcc" => Bcc,
        "oam" => Oam,
        "oamf4" => Oamf4,
        "oamf4ec" => Oamf4ec,
        "oamf4sc" => Oamf4sc,
        "sc" => Sc,
        "ilmic" => Ilmic,
        "vpi" => Vpi,
        "vci" => Vci,
        "connectmsg" => Connectmsg,
        "metaconnect" => Metaconnect,
        "fisu" => Fisu,
        "lssu" | "lsu" => Lssu,
        "msu" => Msu,
        "hfisu" => Hfisu,
        "hlssu" => Hlssu,
        "hmsu" => Hmsu,
        "sio" => Sio,
        "opc" => Opc,
        "dpc" => Dpc,
        "sls" => Sls,
        "hsio" => Hsio,
        "hopc" => Hopc,
        "hdpc" => Hdpc,
        "hsls" => Hsls,
        _ => return named_number(word).map(Tok::Num),
    };
    Some(Tok::Kw(kw))
}

/// The named numeric constants of pcap-filter(7) (scanner.l returns them as NUM).
pub(crate) fn named_number(word: &str) -> Option<u32> {
    Some(match word {
        "icmptype" | "icmp6type" => 0,
        "icmpcode" | "icmp6code" => 1,
        "icmp-echoreply" => 0,
        "icmp-unreach" => 3,
        "icmp-sourcequench" => 4,
        "icmp-redirect" => 5,
        "icmp-echo" => 8,
        "icmp-routeradvert" => 9,
        "icmp-routersolicit" => 10,
        "icmp-timxceed" => 11,
        "icmp-paramprob" => 12,
        "icmp-tstamp" => 13,
        "icmp-tstampreply" => 14,
        "icmp-ireq" => 15,
        "icmp-ireqreply" => 16,
        "icmp-maskreq" => 17,
        "icmp-maskreply" => 18,
        "icmp6-destinationunreach" => 1,
        "icmp6-packettoobig" => 2,
        "icmp6-timeexceeded" => 3,
        "icmp6-parameterproblem" => 4,
        "icmp6-echo" => 128,
        "icmp6-echoreply" => 129,
        "icmp6-multicastlistenerquery" => 130,
        "icmp6-multicastlistenerreportv1" => 131,
        "icmp6-multicastlistenerdone" => 132,
        "icmp6-routersolicit" => 133,
        "icmp6-routeradvert" => 134,
        "icmp6-neighborsolicit" => 135,
        "icmp6-neighboradvert" => 136,
        "icmp6-redirect" => 137,
        "icmp6-routerrenum" => 138,
        "icmp6-nodeinformationquery" => 139,
        "icmp6-nodeinformationresponse" => 140,
        "icmp6-ineighbordiscoverysolicit" => 141,
        "icmp6-ineighbordiscoveryadvert" => 142,
        "icmp6-multicastlistenerreportv2" => 143,
        "icmp6-homeagentdiscoveryrequest" => 144,
        "icmp6-homeagentdiscoveryreply" => 145,
        "icmp6-mobileprefixsolicit" => 146,
        "icmp6-mobileprefixadvert" => 147,
        "icmp6-certpathsolicit" => 148,
        "icmp6-certpathadvert" => 149,
        "icmp6-multicastrouteradvert" => 151,
        "icmp6-multicastroutersolicit" => 152,
        "icmp6-multicastrouterterm" => 153,
        "tcpflags" => 13,
        "tcp-fin" => 0x01,
        "tcp-syn" => 0x02,
        "tcp-rst" => 0x04,
        "tcp-push" => 0x08,
        "tcp-ack" => 0x10,
        "tcp-urg" => 0x20,
        "tcp-ece" => 0x40,
        "tcp-cwr" => 0x80,
        _ => return None,
    })
}

/// Parse a number the way libpcap's `stoulen()` does: `0x` hex, leading-zero octal,
/// decimal; error when it does not fit in 32 bits.
fn parse_number(text: &str, col: usize) -> Result<Option<u32>, FilterError> {
    let (digits, radix) =
        if let Some(h) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(None);
            }
            (h, 16)
        } else if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() {
            if text.len() > 1 && text.starts_with('0') {
                if !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                    return Err(FilterError::new(
                        format!("number {text} contains non-octal digit"),
                        col,
                    ));
                }
                (&text[1..], 8)
            } else {
                (text, 10)
            }
        } else {
            return Ok(None);
        };
    match u32::from_str_radix(digits, radix) {
        Ok(v) => Ok(Some(v)),
        Err(_) => Err(FilterError::new(
            format!("number {text} overflows 32 bits"),
            col,
        )),
    }
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let hex2 = |s: &str| -> Option<u8> {
        if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u8::from_str_radix(s, 16).ok()
    };
    let mut out = [0u8; 6];
    for sep in [':', '-', '.'] {
        let parts: Vec<&str> = text.split(sep).collect();
        if parts.len() == 6 {
            for (o, p) in out.iter_mut().zip(&parts) {
                *o = hex2(p)?;
            }
            return Some(out);
        }
    }
    // xxxx.xxxx.xxxx
    let parts: Vec<&str> = text.split('.').collect();
    let all: String = if parts.len() == 3 && parts.iter().all(|p| p.len() == 4) {
        parts.concat()
    } else if parts.len() == 1 && text.len() == 12 {
        text.to_string()
    } else {
        return None;
    };
    if !all.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(all.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn is_hid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    (2..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Split an expression into tokens.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let id_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let push =
            |out: &mut Vec<Token>, tok: Tok, text: String| out.push(Token { tok, col, text });
        // An IPv6 address or a colon-separated MAC address.
        let starts_colon_word =
            c.is_ascii_hexdigit() || (c == ':' && chars.get(i + 1) == Some(&':'));
        if starts_colon_word {
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_ascii_hexdigit() || chars[j] == ':' || chars[j] == '.')
            {
                j += 1;
            }
            let cand: String = chars[i..j].iter().collect();
            let followed_by_id = chars.get(j).is_some_and(|&c| id_char(c));
            if cand.contains(':') && !followed_by_id {
                if let Some(mac) = parse_mac(&cand) {
                    push(&mut out, Tok::Eid(mac), cand);
                    i = j;
                    continue;
                }
                if cand.parse::<std::net::Ipv6Addr>().is_ok() {
                    push(&mut out, Tok::Hid6(cand.clone()), cand);
                    i = j;
                    continue;
                }
            }
        }
        // `$XX`: a one-byte ARCnet/MS-TP address (scanner.l's AID).
        if c == '$' {
            let mut j = i + 1;
            while j < chars.len() && j < i + 3 && chars[j].is_ascii_hexdigit() {
                j += 1;
            }
            let ends = chars.get(j).is_none_or(|&c| !id_char(c));
            if j > i + 1 && ends {
                let text: String = chars[i..j].iter().collect();
                let v = u8::from_str_radix(&text[1..], 16).unwrap_or(0);
                push(&mut out, Tok::Aid(v), text);
                i = j;
                continue;
            }
        }
        if c.is_ascii_alphanumeric() {
            let mut j = i;
            while j < chars.len() && id_char(chars[j]) {
                j += 1;
            }
            // An identifier ends with a letter, digit or dot.
            while j > i + 1 && matches!(chars[j - 1], '-' | '_') {
                j -= 1;
            }
            let word: String = chars[i..j].iter().collect();
            i = j;
            if let Some(v) = parse_number(&word, col)? {
                push(&mut out, Tok::Num(v), word);
            } else if is_hid(&word) {
                push(&mut out, Tok::Hid(word.clone()), word);
            } else if let Some(t) = keyword(&word) {
                push(&mut out, t, word);
            } else if let Some(mac) = parse_mac(&word) {
                push(&mut out, Tok::Eid(mac), word);
            } else {
                push(&mut out, Tok::Id(word.clone()), word);
            }
            continue;
        }
        if c == '\\' {
            let mut j = i + 1;
            while j < chars.len() && !matches!(chars[j], ' ' | '!' | '(' | ')' | '\n' | '\t') {
                j += 1;
            }
            if j == i + 1 {
                return Err(FilterError::new("illegal character '\\'".to_string(), col));
            }
            let word: String = chars[i + 1..j].iter().collect();
            i = j;
            push(&mut out, Tok::Id(word.clone()), format!("\\{word}"));
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (tok, len) = match (c, next) {
            ('&', Some('&')) => (Tok::AndAnd, 2),
            ('|', Some('|')) => (Tok::OrOr, 2),
            ('<', Some('<')) => (Tok::Lsh, 2),
            ('>', Some('>')) => (Tok::Rsh, 2),
            ('<', Some('=')) => (Tok::Le, 2),
            ('>', Some('=')) => (Tok::Ge, 2),
            ('=', Some('=')) => (Tok::Eq, 2),
            ('!', Some('=')) => (Tok::Ne, 2),
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            ('[', _) => (Tok::LBrack, 1),
            (']', _) => (Tok::RBrack, 1),
            (':', _) => (Tok::Colon, 1),
            ('!', _) => (Tok::Bang, 1),
            ('+', _) => (Tok::Plus, 1),
            ('-', _) => (Tok::Minus, 1),
            ('*', _) => (Tok::Star, 1),
            ('/', _) => (Tok::Slash, 1),
            ('%', _) => (Tok::Percent, 1),
            ('&', _) => (Tok::Amp, 1),
            ('|', _) => (Tok::Pipe, 1),
            ('^', _) => (Tok::Caret, 1),
            ('<', _) => (Tok::Lt, 1),
            ('>', _) => (Tok::Gt, 1),
            ('=', _) => (Tok::Eq, 1),
            _ => return Err(FilterError::new(format!("illegal character '{c}'"), col)),
        };
        let text: String = chars[i..i + len].iter().collect();
        push(&mut out, tok, text);
        i += len;
    }
    out.push(Token {
        tok: Tok::Eof,
        col: chars.len() + 1,
        text: String::new(),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn numbers_and_named_constants() {
        assert_eq!(
            toks("0x10 010 16"),
            vec![Tok::Num(16), Tok::Num(8), Tok::Num(16), Tok::Eof]
        );
        assert_eq!(
            toks("tcp-syn|tcp-ack"),
            vec![Tok::Num(2), Tok::Pipe, Tok::Num(16), Tok::Eof]
        );
        assert!(
            tokenize("4294967296")
                .unwrap_err()
                .to_string()
                .contains("overflows 32 bits")
        );
        assert!(
            tokenize("09")
                .unwrap_err()
                .to_string()
                .contains("non-octal")
        );
    }

    #[test]
    fn addresses() {
        assert_eq!(
            toks("1.2.3.4/24")[..3],
            [Tok::Hid("1.2.3.4".into()), Tok::Slash, Tok::Num(24)]
        );
        assert_eq!(toks("::1")[0], Tok::Hid6("::1".into()));
        assert_eq!(toks("fe80::1:2")[0], Tok::Hid6("fe80::1:2".into()));
        assert_eq!(toks("1:2:3:4:5:6")[0], Tok::Eid([1, 2, 3, 4, 5, 6]));
        assert_eq!(
            toks("0a.0b.0c.0d.0e.0f")[0],
            Tok::Eid([10, 11, 12, 13, 14, 15])
        );
        assert_eq!(
            toks("aabbccddeeff")[0],
            Tok::Eid([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])
        );
        assert_eq!(
            toks("ether[0:2]")[..5],
            [
                Tok::Kw(Kw::Link),
                Tok::LBrack,
                Tok::Num(0),
                Tok::Colon,
                Tok::Num(2)
            ]
        );
    }

    #[test]
    fn identifiers_and_escapes() {
        assert_eq!(toks("1-100")[0], Tok::Id("1-100".into()));
        assert_eq!(toks("\\tcp")[0], Tok::Id("tcp".into()));
        assert_eq!(toks("len-1")[0], Tok::Id("len-1".into()));
        assert_eq!(
            toks("len - 1")[..3],
            [Tok::Kw(Kw::Len), Tok::Minus, Tok::Num(1)]
        );
        assert_eq!(toks("a&&b||!c").len(), 7);
        let t = tokenize("tcp  port").unwrap();
        assert_eq!(t[1].col, 6);
        assert_eq!(t[2].col, 10);
        assert!(
            tokenize("tcp @")
                .unwrap_err()
                .to_string()
                .contains("column 5")
        );
    }
}
