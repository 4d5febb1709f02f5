//! One JSON document per command: `{"schema": "memscope.<command>/<n>", …}`
//! followed by the view's own fields.

use std::io::{self, Write};

use serde::Serialize;

#[derive(Serialize)]
struct Doc<'a, T: Serialize> {
    schema: &'static str,
    #[serde(flatten)]
    view: &'a T,
}

/// Write `view` as one pretty JSON document carrying `schema`.
pub fn write_doc<T: Serialize>(w: &mut dyn Write, schema: &'static str, view: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, &Doc { schema, view })?;
    writeln!(w)
}
