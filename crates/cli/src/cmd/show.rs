//! `pcapx show`: Scapy `show()`-style layered dump of every field.

use std::fmt::Write as _;
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::{Result, bail};
use pcapx_core::fields::Limit;
use pcapx_core::{Base, Engine, Fields, Value, Wanted};

use crate::cli::ShowArgs;
use crate::input;

pub fn run(a: &ShowArgs, ctx: &super::Ctx) -> Result<ExitCode> {
    let engine = &ctx.engine;
    let mut cap = input::open(&a.input)?;
    let mut fields = engine.new_fields(Wanted::All);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut found = false;
    let mut text = String::new();
    let live = cap.is_live();
    // Dumps are held back until their batch is known to be intact (a
    // shrinking file); a live batch ends as soon as the ring is empty, and
    // its dumps are flushed at once.
    let held = std::cell::RefCell::new(String::new());
    let mut pass = input::StreamPass::for_input(engine, &a.input, None, 0);
    input::walk_with_committed(
        &mut cap,
        a.input.limit,
        pass.as_mut(),
        |rec, side| {
            if let Some(p) = a.packet
                && rec.number != p
            {
                return Ok(if rec.number > p {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                });
            }
            found = true;
            engine.dissect_with(&input::meta(rec), rec.data, side, &mut fields);
            text.clear();
            render(engine, &fields, &mut text);
            if a.hex {
                hexdump(rec.data, &mut text);
            }
            text.push('\n');
            held.borrow_mut().push_str(&text);
            Ok(if a.packet.is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        },
        || {
            let mut held = held.borrow_mut();
            out.write_all(held.as_bytes())?;
            held.clear();
            if live {
                out.flush()?;
            }
            Ok(())
        },
    )?;
    out.flush()?;
    cap.report_damage();
    if let Some(p) = &pass {
        p.report(&a.input.name());
    }
    if let Some(p) = a.packet
        && !found
    {
        bail!("{}: no packet number {p}", a.input.name());
    }
    Ok(ExitCode::SUCCESS)
}

/// The layered dump: one `###[ Name ]###` block per layer, indented like Scapy.
pub fn render(engine: &Engine, fields: &Fields, out: &mut String) {
    let reg = engine.registry();
    for (li, layer) in fields.layers().iter().enumerate() {
        let proto = reg.protocol(layer.proto);
        let indent = " ".repeat(li.saturating_sub(1) * 2);
        let title = if li == 0 {
            proto.display.clone()
        } else {
            format!("{} ({})", proto.display, proto.name)
        };
        let _ = writeln!(out, "{indent}###[ {title} ]###");
        let Ok(l16) = u16::try_from(li) else { break };
        for e in fields.layer_entries(l16) {
            let def = reg.field(e.field);
            let short = def
                .name
                .strip_prefix(&format!("{}.", proto.name))
                .unwrap_or(&def.name);
            let _ = write!(out, "{indent}  {short:<14} = ");
            let value = fields.value(e);
            match (value, def.base) {
                (Value::U64(v), Base::Hex) => {
                    // As Wireshark pads it (a uint64 unpadded, as before).
                    let width = match def.ftype {
                        pcapx_core::FieldType::U64 => 1,
                        _ => def.hex_width().unwrap_or(1),
                    };
                    let _ = write!(out, "0x{v:0width$x}");
                }
                (Value::Str(s), _) => {
                    let _ = write!(out, "{s:?}");
                }
                (Value::Bytes(b), _) if b.len() > 32 => {
                    let _ = pcapx_core::value::write_hex(out, &b[..32], '\0');
                    let _ = write!(out, "… ({} bytes)", b.len());
                }
                (v, _) => {
                    let _ = v.write_plain(out);
                }
            }
            // Wireshark's value_string: `type = 2 (MOVE)`.
            if let Some(name) = def.value_name(value) {
                let _ = write!(out, " ({name})");
            }
            out.push('\n');
        }
        for hit in fields
            .anomalies()
            .iter()
            .filter(|h| usize::from(h.layer) == li || (li == 0 && h.layer == u16::MAX))
        {
            let a = reg.anomaly(hit.id);
            match hit.cut {
                Some(cut) => {
                    let _ = write!(out, "{indent}  !! {} at byte {}: ", a.name, cut.at);
                    let _ = match cut.limit {
                        Limit::Snaplen { caplen } => {
                            writeln!(out, "cut by the capture snaplen (caplen {caplen})")
                        }
                        Limit::Declared(p) => match reg.length_name(p) {
                            Some(name) => writeln!(out, "cut by the {name}"),
                            None => writeln!(
                                out,
                                "cut by the payload length {} declares",
                                reg.protocol(p).display
                            ),
                        },
                        Limit::FrameEnd => writeln!(out, "the frame ends there"),
                    };
                }
                None => {
                    let _ = writeln!(out, "{indent}  !! {}: {}", a.name, a.description);
                }
            }
        }
    }
}

/// Scapy's `hexdump()` layout: offset, 16 bytes in hex, printable ASCII.
pub fn hexdump(data: &[u8], out: &mut String) {
    for (i, chunk) in data.chunks(16).enumerate() {
        let _ = write!(out, "{:04x}  ", i * 16);
        for j in 0..16 {
            match chunk.get(j) {
                Some(b) => {
                    let _ = write!(out, "{b:02X} ");
                }
                None => out.push_str("   "),
            }
        }
        out.push(' ');
        for &b in chunk {
            out.push(if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '.'
            });
        }
        out.push('\n');
    }
}
