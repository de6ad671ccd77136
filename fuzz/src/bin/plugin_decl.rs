//! The plugin declaration parser and validator (`pcapx_plugin_host::
//! check_declaration`, what `load` runs on the entry point's result): the
//! fuzzer's bytes build a `pcapx_plugin` declaration in memory — names,
//! fields (types, bases, aliases), bindings, heuristics, tables, anomalies,
//! sizes, magic and version — drawn mostly from plausible values, and the
//! host must accept it or reject it with an error, never panic, and register
//! an accepted one next to the built-ins.
#![no_main]

use std::ffi::{CString, c_char, c_void};

use libfuzzer_sys::fuzz_target;
use pcapx_fuzz::Bytes;
use pcapx_plugin_abi as abi;

const NAMES: &[&str] = &[
    "ntp",
    "tftp",
    "x",
    "",
    "ip",
    "udp",
    "Ntp",
    "ntp.x",
    "ntp..",
    "9p",
    "a-b",
    "tcp.port",
    "udp.port",
    "ethertype",
    "ip.proto",
    "linktype",
    "ntp.stratum",
    "ntp.mode",
    "src",
    "dst",
    "payload",
    "ntp.bad",
    "ntp.Bad",
    "plugin-failed",
    "ntp.stratum.x",
    "tftp.opcode",
];

/// Keeps every allocation the declaration points into alive.
#[derive(Default)]
struct Arena {
    strings: Vec<CString>,
    ptr_lists: Vec<Vec<*const c_char>>,
    fields: Vec<Vec<abi::FieldDecl>>,
    bindings: Vec<Vec<abi::BindingDecl>>,
    anomalies: Vec<Vec<abi::AnomalyDecl>>,
    value_names: Vec<Vec<abi::ValueNameDecl>>,
}

impl Arena {
    fn string(&mut self, b: &mut Bytes) -> *const c_char {
        match b.pick(12) {
            0 => std::ptr::null(),
            1 => {
                // Arbitrary bytes (no interior NUL), possibly not UTF-8.
                let n = b.pick(24);
                let raw: Vec<u8> = (0..n).map(|_| b.byte().max(1)).collect();
                self.keep(CString::new(raw).unwrap_or_default())
            }
            2 => {
                let base = NAMES[b.pick(NAMES.len())];
                let ext = NAMES[b.pick(NAMES.len())];
                self.keep(CString::new(format!("{base}.{ext}")).unwrap_or_default())
            }
            _ => self.keep(CString::new(NAMES[b.pick(NAMES.len())]).unwrap_or_default()),
        }
    }

    fn keep(&mut self, s: CString) -> *const c_char {
        let p = s.as_ptr();
        self.strings.push(s);
        p
    }

    fn list(&mut self, b: &mut Bytes, n: usize) -> *const *const c_char {
        if n == 0 && b.byte() & 1 == 0 {
            return std::ptr::null();
        }
        let v: Vec<*const c_char> = (0..n).map(|_| self.string(b)).collect();
        let p = v.as_ptr();
        self.ptr_lists.push(v);
        p
    }
}

fn size_of_u32<T>() -> u32 {
    u32::try_from(std::mem::size_of::<T>()).unwrap_or(u32::MAX)
}

/// A size field: usually right, sometimes off.
fn size(b: &mut Bytes, right: u32) -> u32 {
    match b.pick(16) {
        0 => 0,
        1 => right.saturating_sub(4),
        2 => right + 8,
        _ => right,
    }
}

unsafe extern "C" fn dissect(
    _user: *mut c_void,
    _data: *const u8,
    _len: usize,
    _info: *const abi::LayerInfo,
    _api: *const abi::HostApi,
    _cx: *mut c_void,
    _out: *mut abi::OutcomeOut,
) -> i32 {
    -1
}

unsafe extern "C" fn accepts(
    _user: *mut c_void,
    _data: *const u8,
    _len: usize,
    _info: *const abi::LayerInfo,
) -> i32 {
    0
}

fn protocol(a: &mut Arena, b: &mut Bytes) -> abi::ProtocolDecl {
    let nf = b.pick(5);
    let mut fields = Vec::new();
    for _ in 0..nf {
        let alias_count = b.pick(3);
        fields.push(abi::FieldDecl {
            size: size(b, size_of_u32::<abi::FieldDecl>()),
            ftype: b.byte() % 15,
            base: b.byte() % 3,
            alias_count: u16::try_from(alias_count).unwrap_or(0),
            name: a.string(b),
            display: a.string(b),
            description: a.string(b),
            aliases: a.list(b, alias_count),
            value_name_count: 0,
            value_names: std::ptr::null(),
        });
        // ABI 1.1 value names: a few records (sizes sometimes off, names
        // sometimes NULL or repeated values), on any field type.
        let nv = b.pick(4);
        if nv > 0 {
            let names: Vec<abi::ValueNameDecl> = (0..nv)
                .map(|_| abi::ValueNameDecl {
                    size: size(b, size_of_u32::<abi::ValueNameDecl>()),
                    value: u64::from(b.byte() % 4),
                    name: a.string(b),
                })
                .collect();
            if let Some(f) = fields.last_mut() {
                f.value_name_count = u32::try_from(nv).unwrap_or(0);
                f.value_names = names.as_ptr();
            }
            a.value_names.push(names);
        }
    }
    let nb = b.pick(3);
    let mut bindings = Vec::new();
    for _ in 0..nb {
        bindings.push(abi::BindingDecl {
            size: size(b, size_of_u32::<abi::BindingDecl>()),
            table: a.string(b),
            key: u64::from(b.u16()),
        });
    }
    let na = b.pick(3);
    let mut anomalies = Vec::new();
    for _ in 0..na {
        anomalies.push(abi::AnomalyDecl {
            size: size(b, size_of_u32::<abi::AnomalyDecl>()),
            name: a.string(b),
            description: a.string(b),
        });
    }
    let nh = b.pick(2);
    let nt = b.pick(3);
    // Counts that lie are out of the ABI contract (the host cannot check
    // them), so the counts always match the arrays built here.
    let decl = abi::ProtocolDecl {
        size: size(b, size_of_u32::<abi::ProtocolDecl>()),
        field_count: u32::try_from(nf).unwrap_or(0),
        binding_count: u32::try_from(nb).unwrap_or(0),
        heuristic_count: u32::try_from(nh).unwrap_or(0),
        table_count: u32::try_from(nt).unwrap_or(0),
        anomaly_count: u32::try_from(na).unwrap_or(0),
        name: a.string(b),
        display: a.string(b),
        summary_name: a.string(b),
        fields: if nf == 0 {
            std::ptr::null()
        } else {
            fields.as_ptr()
        },
        bindings: if nb == 0 {
            std::ptr::null()
        } else {
            bindings.as_ptr()
        },
        heuristics: a.list(b, nh),
        tables: a.list(b, nt),
        anomalies: if na == 0 {
            std::ptr::null()
        } else {
            anomalies.as_ptr()
        },
        user: std::ptr::null_mut(),
        dissect: if b.byte() % 8 == 0 {
            None
        } else {
            Some(dissect)
        },
        accepts: if b.byte() & 1 == 0 {
            None
        } else {
            Some(accepts)
        },
        summary: None,
    };
    a.fields.push(fields);
    a.bindings.push(bindings);
    a.anomalies.push(anomalies);
    decl
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let mut arena = Arena::default();
    let np = b.pick(4);
    let protocols: Vec<abi::ProtocolDecl> = (0..np).map(|_| protocol(&mut arena, &mut b)).collect();
    let decl = abi::PluginDecl {
        magic: if b.byte() % 16 == 0 {
            0x1234_5678
        } else {
            abi::PLUGIN_MAGIC
        },
        size: size(&mut b, size_of_u32::<abi::PluginDecl>()),
        abi_major: if b.byte() % 16 == 0 {
            2
        } else {
            abi::ABI_MAJOR
        },
        abi_minor: u16::from(b.byte() % 3),
        flags: u32::from(b.byte() & 1),
        name: arena.string(&mut b),
        version: arena.string(&mut b),
        description: arena.string(&mut b),
        protocol_count: u32::try_from(np).unwrap_or(0),
        protocols: if np == 0 {
            std::ptr::null()
        } else {
            protocols.as_ptr()
        },
    };
    let mut builder = pcapx_dissectors::builder().expect("built-ins register");
    // SAFETY: every pointer in `decl` is NULL or points into `arena` /
    // `protocols`, alive until the end of this call; strings are
    // NUL-terminated CStrings and every count matches its array.
    let result = unsafe { pcapx_plugin_host::check_declaration(&decl, "fuzz.so", &mut builder) };
    match result {
        Ok(p) => {
            assert!(!p.info().protocols.is_empty());
            // A binding into a table nobody declared is refused when the
            // engine is frozen (BuildError::UndeclaredTable): a rejection,
            // not a crash.
            let Ok(engine) = builder.build() else {
                return;
            };
            for proto in &p.info().protocols {
                for f in &proto.fields {
                    assert!(
                        engine.registry().field_by_name(&f.name).is_some(),
                        "{}",
                        f.name
                    );
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    drop(arena);
});
