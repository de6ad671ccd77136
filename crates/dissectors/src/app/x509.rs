//! X.509 certificates inside TLS Certificate messages: the fields tshark's
//! `x509af`/`x509if`/`x509sat`/`x509ce` dissectors show for them, plus the
//! subject and issuer as one line each.
//!
//! The certificate is walked as DER, in tshark's tree order (so every
//! field's occurrences come in tshark's order): version, serial number,
//! signature algorithm, issuer name, validity (UTCTime), subject name,
//! public-key algorithm, extensions, outer signature algorithm. Names are
//! walked down to their attributes (`x509if.oid` and the attribute's string
//! under the field its syntax has in tshark: `x509sat.CountryName`, a
//! `x509sat.DirectoryString` choice, `x509sat.PrintableString`,
//! `x509sat.IA5String`). Inside extensions, the general names of subject and
//! issuer alternative names, the authority key identifier, CRL distribution
//! points, authority/subject information access and name constraints are
//! decoded (`x509ce.dNSName`, `x509ce.uniformResourceIdentifier`,
//! `x509ce.rfc822Name`, directory names as above), and the signed
//! certificate timestamps' signature algorithms (`tls.handshake.sig_hash_alg`,
//! as tshark's TLS dissector shows them).
//!
//! The OCSP response of a CertificateStatus message (OCSP stapling) is
//! walked for the same fields: responder name, CertID hash algorithms,
//! signature algorithm, and the certificates it carries.
//!
//! Validity: `x509af.notBefore`/`notAfter` (the Time choice),
//! `x509af.utcTime` (tshark's text) and `x509af.generalizedTime` (an
//! absolute time, like tshark's).
//!
//! Not decoded: other extensions' contents, algorithm parameters.
//!
//! The four protocols only declare fields ([`declarations`]); the TLS
//! dissector (and QUIC's, through it) fills them. Nothing here allocates:
//! strings are written into the field store's arena.

use std::sync::{Arc, OnceLock};

use pcapx_core::{Ctx, Dissector, FieldId, Outcome, Registrar, RegistryError, Value};

use super::{add_text, be16};

pcapx_core::field_table! {
    /// `x509af`: the certificate itself.
    pub(crate) struct AfFields {
        version = ("x509af.version", "version", I32, "Certificate version (0 v1, 1 v2, 2 v3)"),
        serial = ("x509af.serialNumber", "serialNumber", Bytes, "Certificate serial number"),
        algorithm_id = ("x509af.algorithm.id", "Algorithm Id",
            Str, "Algorithm OIDs: the signature (in the signed part), the public key's, the outer signature's"),
        rdn_sequence = ("x509af.rdnSequence", "rdnSequence", U32, "Subject name: number of relative distinguished names"),
        not_before = ("x509af.notBefore", "notBefore", U32, "Validity start: which Time choice (0 utcTime, 1 generalizedTime)"),
        not_after = ("x509af.notAfter", "notAfter", U32, "Validity end: which Time choice (0 utcTime, 1 generalizedTime)"),
        utc_time = ("x509af.utcTime", "utcTime", Str, "Validity times given as UTCTime, as tshark shows them (2011-05-04 00:00:00 (UTC))"),
        generalized_time = ("x509af.generalizedTime", "generalizedTime", Time, "Validity times given as GeneralizedTime (an absolute time, as tshark's)"),
        extension_id = ("x509af.extension.id", "Extension Id", Str, "Extension OIDs, in order"),
    }
}

pcapx_core::field_table! {
    /// `x509if`: names.
    pub(crate) struct IfFields {
        rdn_sequence = ("x509if.rdnSequence", "rdnSequence", U32, "Issuer name and directory names in extensions: number of relative distinguished names"),
        rdn_item = ("x509if.RDNSequence_item", "RDNSequence item", U32, "Attributes in each relative distinguished name"),
        oid = ("x509if.oid", "Object Id", Str, "Attribute type of each name attribute"),
    }
}

pcapx_core::field_table! {
    /// `x509sat`: attribute values of names.
    pub(crate) struct SatFields {
        country = ("x509sat.CountryName", "CountryName", Str, "countryName (and jurisdiction country) attributes"),
        printable_attr = ("x509sat.PrintableString", "PrintableString", Str, "serialNumber and dnQualifier attributes"),
        ia5_attr = ("x509sat.IA5String", "IA5String", Str, "emailAddress attributes"),
        directory_string = ("x509sat.DirectoryString", "DirectoryString", U32, "String type of a directory-string attribute: 0 teletex, 1 printable, 2 universal, 3 BMP, 4 UTF-8"),
        teletex = ("x509sat.teletexString", "teletexString", Str, ""),
        printable = ("x509sat.printableString", "printableString", Str, ""),
        universal = ("x509sat.universalString", "universalString", Str, ""),
        bmp = ("x509sat.bmpString", "bmpString", Str, ""),
        utf8 = ("x509sat.uTF8String", "uTF8String", Str, ""),
    }
}

pcapx_core::field_table! {
    /// `x509ce`: general names inside extensions.
    pub(crate) struct CeFields {
        dns_name = ("x509ce.dNSName", "dNSName", Str, "DNS names (subject alternative names, name constraints, …)"),
        uri = ("x509ce.uniformResourceIdentifier", "uniformResourceIdentifier", Str, "URIs (CRL distribution points, authority information access, …)"),
        rfc822 = ("x509ce.rfc822Name", "rfc822Name", Str, "E-mail addresses in general names"),
    }
}

/// Every X.509 field id, as the TLS dissector holds them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct X509Ids {
    pub af: AfFields,
    pub if_: IfFields,
    pub sat: SatFields,
    pub ce: CeFields,
}

impl Default for X509Ids {
    fn default() -> X509Ids {
        X509Ids {
            af: AfFields::UNSET,
            if_: IfFields::UNSET,
            sat: SatFields::UNSET,
            ce: CeFields::UNSET,
        }
    }
}

/// Where the declaring dissectors publish their ids for TLS.
#[derive(Debug, Default)]
pub(crate) struct X509Cells {
    af: OnceLock<AfFields>,
    if_: OnceLock<IfFields>,
    sat: OnceLock<SatFields>,
    ce: OnceLock<CeFields>,
}

impl X509Cells {
    /// The ids registered so far (unset where a table was not registered).
    pub(crate) fn ids(&self) -> X509Ids {
        X509Ids {
            af: self.af.get().copied().unwrap_or(AfFields::UNSET),
            if_: self.if_.get().copied().unwrap_or(IfFields::UNSET),
            sat: self.sat.get().copied().unwrap_or(SatFields::UNSET),
            ce: self.ce.get().copied().unwrap_or(CeFields::UNSET),
        }
    }
}

#[derive(Clone, Copy)]
enum Which {
    Af,
    If,
    Sat,
    Ce,
}

/// The protocols whose fields certificates fill (TLS and QUIC declare them
/// with `Registrar::also_fills`).
pub(crate) const PROTOCOLS: [&str; 4] = ["x509af", "x509if", "x509sat", "x509ce"];

/// A protocol that only declares the X.509 fields (bound to no table, so
/// the engine never calls it).
struct Declare {
    which: Which,
    cells: Arc<X509Cells>,
}

impl Dissector for Declare {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        match self.which {
            Which::Af => {
                r.protocol("x509af", "X.509 Authentication Framework", "X509AF")?;
                let _ = self.cells.af.set(AfFields::register(r)?);
            }
            Which::If => {
                r.protocol("x509if", "X.509 Information Framework", "X509IF")?;
                let _ = self.cells.if_.set(IfFields::register(r)?);
            }
            Which::Sat => {
                r.protocol("x509sat", "X.509 Selected Attribute Types", "X509SAT")?;
                let _ = self.cells.sat.set(SatFields::register(r)?);
            }
            Which::Ce => {
                r.protocol("x509ce", "X.509 Certificate Extensions", "X509CE")?;
                let _ = self.cells.ce.set(CeFields::register(r)?);
            }
        }
        Ok(())
    }

    fn dissect(&self, _data: &[u8], _cx: &mut Ctx<'_>) -> Outcome {
        Outcome::end(0)
    }
}

/// The four declaring dissectors, publishing into `cells` (register them
/// before TLS, which reads the ids at its own registration).
pub(crate) fn declarations(cells: &Arc<X509Cells>) -> Vec<Box<dyn Dissector>> {
    [Which::Af, Which::If, Which::Sat, Which::Ce]
        .into_iter()
        .map(|which| {
            Box::new(Declare {
                which,
                cells: Arc::clone(cells),
            }) as Box<dyn Dissector>
        })
        .collect()
}

// DER tags.
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const UTF8: u8 = 0x0c;
const PRINTABLE: u8 = 0x13;
const TELETEX: u8 = 0x14;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const UNIVERSAL: u8 = 0x1c;
const BMP: u8 = 0x1e;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;

/// One DER element at the start of `d`: (tag, content, rest). Definite
/// lengths of up to four bytes; anything else is not a certificate.
fn tlv(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, r) = d.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&l0, r) = r.split_first()?;
    let (len, r) = if l0 < 0x80 {
        (usize::from(l0), r)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let b = r.get(..n)?;
        (
            b.iter().fold(0usize, |a, &x| a << 8 | usize::from(x)),
            r.get(n..)?,
        )
    };
    let content = r.get(..len)?;
    Some((tag, content, r.get(len..)?))
}

/// The elements of a constructed value, in order; stops at the first one
/// that does not parse.
struct Elements<'a>(&'a [u8]);

impl<'a> Iterator for Elements<'a> {
    type Item = (u8, &'a [u8]);
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (tag, content, rest) = tlv(self.0)?;
        self.0 = rest;
        Some((tag, content))
    }
}

/// The content of a `tag` element at the start of `d`, and what follows.
fn expect(d: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, c, r) = tlv(d)?;
    (t == tag).then_some((c, r))
}

/// An OID's dotted form into `out`; `false` (and whatever was written) when
/// the encoding is bad or an arc exceeds 64 bits.
fn write_oid(b: &[u8], out: &mut Vec<u8>) -> bool {
    let mut first = true;
    let mut v: u64 = 0;
    let mut any = false;
    for &x in b {
        if v > u64::MAX >> 7 {
            return false;
        }
        v = v << 7 | u64::from(x & 0x7f);
        any = true;
        if x & 0x80 != 0 {
            continue;
        }
        if first {
            let (a, rest) = match v {
                0..40 => (0, v),
                40..80 => (1, v - 40),
                _ => (2, v - 80),
            };
            push_u64(out, a);
            out.push(b'.');
            push_u64(out, rest);
            first = false;
        } else {
            out.push(b'.');
            push_u64(out, v);
        }
        v = 0;
        any = false;
    }
    !first && !any
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn add_oid(cx: &mut Ctx<'_>, f: FieldId, oid: &[u8]) {
    if cx.wants(f) {
        cx.add_str_with(f, |o| {
            let at = o.len();
            if !write_oid(oid, o) {
                o.truncate(at);
            }
        });
    }
}

/// How tshark decodes an attribute's value (by its type OID).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Country,
    Printable,
    Ia5,
    Directory,
    Unknown,
}

const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
/// 1.3.6.1.4.1.311.60.2.1 (EV jurisdiction attributes), without the last arc.
const JURISDICTION: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01];

/// The attribute's name as tshark shows it in the name's text, and its
/// syntax.
fn attribute(oid: &[u8]) -> (Option<&'static str>, Syntax) {
    use Syntax::{Country, Directory, Ia5, Printable};
    if let [0x55, 0x04, n] = oid {
        return match n {
            3 => (Some("id-at-commonName"), Directory),
            4 => (Some("id-at-surname"), Directory),
            5 => (Some("id-at-serialNumber"), Printable),
            6 => (Some("id-at-countryName"), Country),
            7 => (Some("id-at-localityName"), Directory),
            8 => (Some("id-at-stateOrProvinceName"), Directory),
            9 => (Some("id-at-streetAddress"), Directory),
            10 => (Some("id-at-organizationName"), Directory),
            11 => (Some("id-at-organizationalUnitName"), Directory),
            12 => (Some("id-at-title"), Directory),
            13 => (Some("id-at-description"), Directory),
            15 => (Some("id-at-businessCategory"), Directory),
            17 => (Some("id-at-postalCode"), Directory),
            41 => (Some("id-at-name"), Directory),
            42 => (Some("id-at-givenName"), Directory),
            43 => (Some("id-at-initials"), Directory),
            44 => (Some("id-at-generationQualifier"), Directory),
            46 => (Some("id-at-dnQualifier"), Printable),
            65 => (Some("id-at-pseudonym"), Directory),
            97 => (Some("id-at-organizationIdentifier"), Directory),
            _ => (None, Syntax::Unknown),
        };
    }
    if oid == EMAIL {
        return (Some("pkcs-9-at-emailAddress"), Ia5);
    }
    if let Some((&last, head)) = oid.split_last()
        && head == JURISDICTION
    {
        return match last {
            1 => (Some("jurisdictionOfIncorporationLocalityName"), Directory),
            2 => (
                Some("jurisdictionOfIncorporationStateOrProvinceName"),
                Directory,
            ),
            3 => (Some("jurisdictionOfIncorporationCountryName"), Country),
            _ => (None, Syntax::Unknown),
        };
    }
    (None, Syntax::Unknown)
}

/// Decode a string value (UTF-8 for the 8-bit types, UCS-2/UCS-4 big-endian
/// for BMP/universal strings) into `out`.
fn write_string(tag: u8, b: &[u8], out: &mut Vec<u8>) {
    let push_char = |c: u32, out: &mut Vec<u8>| {
        let c = char::from_u32(c).unwrap_or('\u{fffd}');
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    match tag {
        BMP => {
            for c in b.chunks(2) {
                let v = c.iter().fold(0u32, |a, &x| a << 8 | u32::from(x));
                push_char(v, out);
            }
        }
        UNIVERSAL => {
            for c in b.chunks(4) {
                let v = c.iter().fold(0u32, |a, &x| a << 8 | u32::from(x));
                push_char(v, out);
            }
        }
        _ => {
            for chunk in b.utf8_chunks() {
                out.extend_from_slice(chunk.valid().as_bytes());
                if !chunk.invalid().is_empty() {
                    out.extend_from_slice("\u{fffd}".as_bytes());
                }
            }
        }
    }
}

/// One attribute's value fields.
fn attribute_value(ids: &X509Ids, syntax: Syntax, tag: u8, v: &[u8], cx: &mut Ctx<'_>) {
    let s = &ids.sat;
    let f = match syntax {
        Syntax::Country => s.country,
        Syntax::Printable => s.printable_attr,
        Syntax::Ia5 => s.ia5_attr,
        Syntax::Unknown => return,
        Syntax::Directory => {
            let (choice, f) = match tag {
                TELETEX => (0, s.teletex),
                PRINTABLE => (1, s.printable),
                UNIVERSAL => (2, s.universal),
                BMP => (3, s.bmp),
                UTF8 => (4, s.utf8),
                _ => return,
            };
            cx.add(s.directory_string, Value::U64(choice));
            f
        }
    };
    if matches!(tag, BMP | UNIVERSAL) {
        cx.add_str_with(f, |o| write_string(tag, v, o));
    } else {
        add_text(cx, f, v);
    }
}

/// A Name (RDNSequence): the count under `count`, each RDN's attribute
/// count, each attribute's type and value.
fn name(ids: &X509Ids, d: &[u8], count: FieldId, cx: &mut Ctx<'_>) {
    let n = Elements(d).count();
    cx.add(count, Value::U64(n as u64));
    for (tag, rdn) in Elements(d) {
        if tag != SET {
            continue;
        }
        cx.add(ids.if_.rdn_item, Value::U64(Elements(rdn).count() as u64));
        for (tag, ava) in Elements(rdn) {
            if tag != SEQUENCE {
                continue;
            }
            let Some((oid, rest)) = expect(ava, OID) else {
                continue;
            };
            add_oid(cx, ids.if_.oid, oid);
            let Some((vtag, v, _)) = tlv(rest) else {
                continue;
            };
            attribute_value(ids, attribute(oid).1, vtag, v, cx);
        }
    }
}

/// The name as one line, the way tshark labels an RDNSequence: the RDNs
/// last to first, `,` between them, `+` between the attributes of one RDN,
/// each `type=value` (the type's name, or its OID when tshark has none).
fn write_name_text(d: &[u8], out: &mut Vec<u8>) {
    let mut rdns = [&[][..]; 64];
    let mut n = 0;
    for (tag, rdn) in Elements(d) {
        if tag == SET && n < rdns.len() {
            rdns[n] = rdn;
            n += 1;
        }
    }
    for (i, rdn) in rdns[..n].iter().rev().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        for (j, (_, ava)) in Elements(rdn).filter(|(t, _)| *t == SEQUENCE).enumerate() {
            if j > 0 {
                out.push(b'+');
            }
            let Some((oid, rest)) = expect(ava, OID) else {
                continue;
            };
            match attribute(oid).0 {
                Some(name) => out.extend_from_slice(name.as_bytes()),
                None => {
                    let at = out.len();
                    if !write_oid(oid, out) {
                        out.truncate(at);
                    }
                }
            }
            out.push(b'=');
            if let Some((vtag, v, _)) = tlv(rest) {
                write_string(vtag, v, out);
            }
        }
    }
}

/// tshark's rendering of a UTCTime `YYMMDDhhmmssZ`: `20YY-MM-DD hh:mm:ss
/// (UTC)` (years 50–99 are 19YY). Other forms are not shown.
fn add_utc_time(f: FieldId, v: &[u8], cx: &mut Ctx<'_>) {
    if v.len() != 13 || v[12] != b'Z' || !v[..12].iter().all(u8::is_ascii_digit) {
        return;
    }
    cx.add_str_with(f, |o| {
        o.extend_from_slice(if v[0] >= b'5' { b"19" } else { b"20" });
        o.extend_from_slice(&v[0..2]);
        o.push(b'-');
        o.extend_from_slice(&v[2..4]);
        o.push(b'-');
        o.extend_from_slice(&v[4..6]);
        o.push(b' ');
        o.extend_from_slice(&v[6..8]);
        o.push(b':');
        o.extend_from_slice(&v[8..10]);
        o.push(b':');
        o.extend_from_slice(&v[10..12]);
        o.extend_from_slice(b" (UTC)");
    });
}

/// A GeneralizedTime `YYYYMMDDhhmmss[.f…](Z|±hhmm)` (X.680 §46; DER uses
/// the `Z` form) as nanoseconds since the epoch. Other forms (no seconds,
/// local time) are not shown.
fn generalized_time(v: &[u8]) -> Option<i64> {
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let b = v.get(r)?;
        b.iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (h, mi, s) = (digits(8..10)?, digits(10..12)?, digits(12..14)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut i = 14;
    let mut frac = 0i64;
    if matches!(v.get(i), Some(b'.' | b',')) {
        i += 1;
        let mut scale = 100_000_000i64;
        while let Some(&c) = v.get(i).filter(|c| c.is_ascii_digit()) {
            frac += i64::from(c - b'0') * scale;
            scale /= 10;
            i += 1;
        }
    }
    let offset = match v.get(i..)? {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), ..] if v.len() == i + 5 => {
            let m = digits(i + 1..i + 3)? * 60 + digits(i + 3..i + 5)?;
            if *sign == b'+' { m * 60 } else { -m * 60 }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(frac)
}

/// AlgorithmIdentifier: its OID.
fn algorithm(ids: &X509Ids, d: &[u8], cx: &mut Ctx<'_>) {
    if let Some((oid, _)) = expect(d, OID) {
        add_oid(cx, ids.af.algorithm_id, oid);
    }
}

/// One GeneralName (context-tagged).
fn general_name(ids: &X509Ids, tag: u8, v: &[u8], cx: &mut Ctx<'_>) {
    match tag {
        0x81 => add_text(cx, ids.ce.rfc822, v),
        0x82 => add_text(cx, ids.ce.dns_name, v),
        0x86 => add_text(cx, ids.ce.uri, v),
        // directoryName [4]: an explicit Name.
        0xa4 => {
            if let Some((seq, _)) = expect(v, SEQUENCE) {
                name(ids, seq, ids.if_.rdn_sequence, cx);
            }
        }
        _ => {}
    }
}

/// GeneralNames: a sequence of GeneralName.
fn general_names(ids: &X509Ids, d: &[u8], cx: &mut Ctx<'_>) {
    for (tag, v) in Elements(d) {
        general_name(ids, tag, v, cx);
    }
}

// Extension OIDs whose general names are decoded.
const SAN: &[u8] = &[0x55, 0x1d, 0x11];
const IAN: &[u8] = &[0x55, 0x1d, 0x12];
const NAME_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x1e];
const CRL_DP: &[u8] = &[0x55, 0x1d, 0x1f];
const AKI: &[u8] = &[0x55, 0x1d, 0x23];
const FRESHEST_CRL: &[u8] = &[0x55, 0x1d, 0x2e];
const AIA: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01];
const SIA: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x0b];
const LOGOTYPE: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x0c];
const SCT_LIST: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02];

/// One extension's value (the OCTET STRING's content).
fn extension(ids: &X509Ids, sig_hash_alg: FieldId, oid: &[u8], v: &[u8], cx: &mut Ctx<'_>) {
    let Some((tag, body, _)) = tlv(v) else {
        return;
    };
    match oid {
        SAN | IAN if tag == SEQUENCE => general_names(ids, body, cx),
        AKI if tag == SEQUENCE => {
            for (t, c) in Elements(body) {
                // authorityCertIssuer [1] IMPLICIT GeneralNames
                if t == 0xa1 {
                    general_names(ids, c, cx);
                }
            }
        }
        CRL_DP | FRESHEST_CRL if tag == SEQUENCE => {
            for (t, dp) in Elements(body) {
                if t != SEQUENCE {
                    continue;
                }
                for (t, c) in Elements(dp) {
                    match t {
                        // distributionPoint [0] { fullName [0] GeneralNames }
                        0xa0 => {
                            for (t, n) in Elements(c) {
                                if t == 0xa0 {
                                    general_names(ids, n, cx);
                                }
                            }
                        }
                        // cRLIssuer [2] GeneralNames
                        0xa2 => general_names(ids, c, cx),
                        _ => {}
                    }
                }
            }
        }
        AIA | SIA if tag == SEQUENCE => {
            for (t, ad) in Elements(body) {
                if t != SEQUENCE {
                    continue;
                }
                if let Some((_, rest)) = expect(ad, OID)
                    && let Some((t, c, _)) = tlv(rest)
                {
                    general_name(ids, t, c, cx);
                }
            }
        }
        NAME_CONSTRAINTS if tag == SEQUENCE => {
            for (t, subtrees) in Elements(body) {
                if t != 0xa0 && t != 0xa1 {
                    continue;
                }
                for (t, st) in Elements(subtrees) {
                    if t == SEQUENCE
                        && let Some((t, c, _)) = tlv(st)
                    {
                        general_name(ids, t, c, cx);
                    }
                }
            }
        }
        SCT_LIST if tag == OCTET_STRING => sct_list(sig_hash_alg, body, cx),
        LOGOTYPE if tag == SEQUENCE => hash_algorithms(ids, body, 0, cx),
        _ => {}
    }
}

/// The logotype extension (RFC 3709): the hash algorithm of every
/// `HashAlgAndValue` (a SEQUENCE that starts with an OID), depth-first.
fn hash_algorithms(ids: &X509Ids, d: &[u8], depth: u32, cx: &mut Ctx<'_>) {
    if depth > 12 {
        return;
    }
    for (tag, c) in Elements(d) {
        if tag == SEQUENCE
            && let Some((oid, _)) = expect(c, OID)
        {
            add_oid(cx, ids.af.algorithm_id, oid);
        } else if tag & 0x20 != 0 {
            hash_algorithms(ids, c, depth + 1, cx);
        }
    }
}

/// A TLS CertificateStatus message's OCSP response (RFC 6960): the
/// responder's name, each CertID's hash algorithm, the signature algorithm
/// and the certificates that come with it, in tshark's order.
pub(crate) fn ocsp_response(
    ids: &X509Ids,
    texts: (FieldId, FieldId),
    sig_hash_alg: FieldId,
    d: &[u8],
    cx: &mut Ctx<'_>,
) {
    let Some((resp, _)) = expect(d, SEQUENCE) else {
        return;
    };
    // responseStatus, then responseBytes [0] EXPLICIT.
    let Some((bytes, _)) = Elements(resp)
        .find(|(t, _)| *t == 0xa0)
        .map(|(_, c)| (c, ()))
    else {
        return;
    };
    let Some((rb, _)) = expect(bytes, SEQUENCE) else {
        return;
    };
    let Some((_, r)) = expect(rb, OID) else {
        return;
    };
    let Some((basic, _)) = expect(r, OCTET_STRING) else {
        return;
    };
    let Some((basic, _)) = expect(basic, SEQUENCE) else {
        return;
    };
    let mut parts = Elements(basic);
    if let Some((SEQUENCE, data)) = parts.next() {
        for (tag, c) in Elements(data) {
            match tag {
                // responderID byName [1] EXPLICIT Name
                0xa1 => {
                    if let Some((n, _)) = expect(c, SEQUENCE) {
                        name(ids, n, ids.if_.rdn_sequence, cx);
                    }
                }
                // responses: SEQUENCE OF SingleResponse { CertID, … }
                SEQUENCE => {
                    for (t, single) in Elements(c) {
                        if t == SEQUENCE
                            && let Some((cert_id, _)) = expect(single, SEQUENCE)
                            && let Some((alg, _)) = expect(cert_id, SEQUENCE)
                        {
                            algorithm(ids, alg, cx);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if let Some((SEQUENCE, alg)) = parts.next() {
        algorithm(ids, alg, cx);
    }
    for (tag, c) in parts {
        if tag == 0xa0
            && let Some((certs, _)) = expect(c, SEQUENCE)
        {
            let mut rest = certs;
            while let Some((SEQUENCE, _, next)) = tlv(rest) {
                let len = rest.len() - next.len();
                certificate(ids, texts, sig_hash_alg, &rest[..len], cx);
                rest = next;
            }
        }
    }
}

/// A SignedCertificateTimestampList (RFC 6962 §3.3): each SCT's signature
/// algorithm, as tshark's TLS dissector shows it.
pub(crate) fn sct_list(sig_hash_alg: FieldId, d: &[u8], cx: &mut Ctx<'_>) {
    let Some(total) = be16(d, 0) else { return };
    let list = d.get(2..2 + usize::from(total)).unwrap_or(&d[2..]);
    let mut off = 0;
    while let Some(n) = be16(list, off) {
        let Some(sct) = list.get(off + 2..off + 2 + usize::from(n)) else {
            break;
        };
        // version, log id (32), timestamp (8), extensions.
        if let Some(ext_len) = be16(sct, 41)
            && let Some(alg) = be16(sct, 43 + usize::from(ext_len))
        {
            cx.add(sig_hash_alg, Value::U64(u64::from(alg)));
        }
        off += 2 + usize::from(n);
    }
}

/// The fields of one DER certificate. `subject_text`/`issuer_text` are
/// the TLS protocol's one-line names; `sig_hash_alg` gets SCT algorithms.
pub(crate) fn certificate(
    ids: &X509Ids,
    texts: (FieldId, FieldId),
    sig_hash_alg: FieldId,
    der: &[u8],
    cx: &mut Ctx<'_>,
) {
    let Some((cert, _)) = expect(der, SEQUENCE) else {
        return;
    };
    let Some((tbs, rest)) = expect(cert, SEQUENCE) else {
        return;
    };
    let mut d = tbs;
    if let Some((0xa0, v, r)) = tlv(d) {
        if let Some((n, _)) = expect(v, INTEGER)
            && n.len() <= 4
            && !n.is_empty()
        {
            let x = n
                .iter()
                .fold(i64::from(i8::from_be_bytes([n[0]])) >> 8, |a, &b| {
                    a << 8 | i64::from(b)
                });
            cx.add(ids.af.version, Value::I64(x));
        }
        d = r;
    }
    let Some((serial, r)) = expect(d, INTEGER) else {
        return;
    };
    cx.add(ids.af.serial, Value::Bytes(serial));
    let Some((alg, r)) = expect(r, SEQUENCE) else {
        return;
    };
    algorithm(ids, alg, cx);
    let Some((issuer, r)) = expect(r, SEQUENCE) else {
        return;
    };
    name(ids, issuer, ids.if_.rdn_sequence, cx);
    let (subject_text, issuer_text) = texts;
    if cx.wants(issuer_text) {
        cx.add_str_with(issuer_text, |o| write_name_text(issuer, o));
    }
    let Some((validity, r)) = expect(r, SEQUENCE) else {
        return;
    };
    for (i, (tag, t)) in Elements(validity).take(2).enumerate() {
        let choice = match tag {
            UTC_TIME => 0,
            GENERALIZED_TIME => 1,
            _ => continue,
        };
        cx.add(
            if i == 0 {
                ids.af.not_before
            } else {
                ids.af.not_after
            },
            Value::U64(choice),
        );
        if tag == UTC_TIME {
            add_utc_time(ids.af.utc_time, t, cx);
        } else if let Some(ns) = generalized_time(t) {
            cx.add(ids.af.generalized_time, Value::Time(ns));
        }
    }
    let Some((subject, r)) = expect(r, SEQUENCE) else {
        return;
    };
    name(ids, subject, ids.af.rdn_sequence, cx);
    if cx.wants(subject_text) {
        cx.add_str_with(subject_text, |o| write_name_text(subject, o));
    }
    let Some((spki, mut r)) = expect(r, SEQUENCE) else {
        return;
    };
    if let Some((alg, _)) = expect(spki, SEQUENCE) {
        algorithm(ids, alg, cx);
    }
    while let Some((tag, c, next)) = tlv(r) {
        r = next;
        if tag != 0xa3 {
            continue;
        }
        let Some((exts, _)) = expect(c, SEQUENCE) else {
            continue;
        };
        for (tag, e) in Elements(exts) {
            if tag != SEQUENCE {
                continue;
            }
            let Some((oid, mut er)) = expect(e, OID) else {
                continue;
            };
            add_oid(cx, ids.af.extension_id, oid);
            if let Some((0x01, _, after)) = tlv(er) {
                er = after;
            }
            if let Some((v, _)) = expect(er, OCTET_STRING) {
                extension(ids, sig_hash_alg, oid, v, cx);
            }
        }
    }
    if let Some((alg, r)) = expect(rest, SEQUENCE) {
        algorithm(ids, alg, cx);
        let _ = expect(r, BIT_STRING);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn generalized_times() {
        use super::generalized_time as g;
        // zeek's x509-generalizedtime certificate: 20150901133337Z.
        assert_eq!(g(b"20150901133337Z"), Some(1_441_114_417_000_000_000));
        assert_eq!(g(b"20500101000000Z"), Some(2_524_608_000_000_000_000));
        assert_eq!(g(b"19700101000000.5Z"), Some(500_000_000));
        assert_eq!(g(b"19700101010000+0100"), Some(0));
        assert_eq!(g(b"2015090113Z"), None);
        assert_eq!(g(b"20151301000000Z"), None);
    }

    use super::*;

    #[test]
    fn oids_print_dotted() {
        let mut o = Vec::new();
        assert!(write_oid(
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05],
            &mut o
        ));
        assert_eq!(o, b"1.2.840.113549.1.1.5");
        o.clear();
        assert!(write_oid(&[0x55, 0x04, 0x03], &mut o));
        assert_eq!(o, b"2.5.4.3");
        o.clear();
        // A cut arc is not an OID.
        assert!(!write_oid(&[0x2a, 0x86], &mut o));
        assert!(!write_oid(&[], &mut Vec::new()));
        // Arcs past 64 bits are refused, not wrapped.
        assert!(!write_oid(
            &[
                0x2a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f
            ],
            &mut Vec::new()
        ));
    }

    #[test]
    fn der_lengths_are_bounded() {
        assert_eq!(
            tlv(&[0x30, 0x03, 1, 2, 3, 9]),
            Some((0x30, &[1u8, 2, 3][..], &[9u8][..]))
        );
        assert_eq!(tlv(&[0x30, 0x82, 0x01]), None);
        assert_eq!(tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(tlv(&[0x1f, 0x01, 0x00]), None);
    }

    #[test]
    fn name_text_is_reversed_with_tshark_names() {
        // C=GB, CN=Examp, an attribute tshark has no name for (2.5.4.99).
        let name = [
            0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'G', b'B', //
            0x31, 0x0e, 0x30, 0x0c, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x05, b'E', b'x', b'a',
            b'm', b'p', //
            0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x63, 0x13, 0x01, b'z',
        ];
        let mut o = Vec::new();
        write_name_text(&name, &mut o);
        assert_eq!(
            String::from_utf8(o).unwrap(),
            "2.5.4.99=z,id-at-commonName=Examp,id-at-countryName=GB"
        );
    }
}
