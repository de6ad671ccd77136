//! Streamed input: standard input, pipes, gzip and zstd files. A bounded
//! buffer holds only the bytes the parser has not consumed yet.

use crate::bytes::u64_of;
use crate::info::Compression;
use crate::parser::Window;
use std::io::{self, Cursor, Read};

/// Bytes requested from the reader per fill.
const CHUNK: usize = 256 * 1024;

pub(crate) struct Stream {
    reader: Box<dyn Read + Send>,
    buf: Vec<u8>,
    base: u64,
    eof: bool,
    compressed: bool,
}

/// What a fill produced besides bytes.
pub(crate) enum Fill {
    Ok,
    /// The decompressor failed; the stream is now at its end.
    Corrupt(String),
}

/// Detects compression by magic and wraps the reader in a decoder.
pub(crate) fn open_stream(mut reader: Box<dyn Read + Send>) -> io::Result<(Stream, Compression)> {
    let mut prefix = Vec::with_capacity(4);
    (&mut reader).take(4).read_to_end(&mut prefix)?;
    let compression = match prefix.as_slice() {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
        _ => Compression::None,
    };
    let (reader, buf): (Box<dyn Read + Send>, Vec<u8>) = match compression {
        Compression::None => (reader, prefix),
        Compression::Gzip => (
            Box::new(flate2::read::MultiGzDecoder::new(
                Cursor::new(prefix).chain(reader),
            )),
            Vec::new(),
        ),
        Compression::Zstd => (
            Box::new(zstd::stream::read::Decoder::new(
                Cursor::new(prefix).chain(reader),
            )?),
            Vec::new(),
        ),
    };
    Ok((
        Stream {
            reader,
            buf,
            base: 0,
            eof: false,
            compressed: compression != Compression::None,
        },
        compression,
    ))
}

impl Stream {
    pub(crate) fn window(&self) -> Window<'_> {
        Window {
            data: &self.buf,
            base: self.base,
            eof: self.eof,
        }
    }

    /// Drops the bytes before `keep_from`, then reads once more (or notes EOF).
    pub(crate) fn fill(&mut self, keep_from: u64) -> io::Result<Fill> {
        if self.eof {
            return Ok(Fill::Ok);
        }
        let drop = usize::try_from(keep_from.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.buf.len());
        if drop > 0 {
            self.buf.drain(..drop);
            self.base = self.base.saturating_add(u64_of(drop));
        }
        let old = self.buf.len();
        self.buf.resize(old.saturating_add(CHUNK), 0);
        let result = loop {
            match self.reader.read(self.buf.get_mut(old..).unwrap_or(&mut [])) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match result {
            Ok(n) => {
                self.buf.truncate(old.saturating_add(n));
                if n == 0 {
                    self.eof = true;
                }
                Ok(Fill::Ok)
            }
            Err(e) => {
                self.buf.truncate(old);
                if self.compressed {
                    self.eof = true;
                    Ok(Fill::Corrupt(e.to_string()))
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Offset just past the buffered bytes.
    pub(crate) fn end(&self) -> u64 {
        self.window().end()
    }
}
