//! `memscope zones` output: tables, JSON (`memscope.zones/1`: the
//! [`ZonesView`] fields), CSV (one row per zone; with `--can-alloc`, one
//! row per zone's answer).

use std::io::{self, Write};

use crate::table::{Cell, Color};
use memscope_analysis::fmt_bytes;
use memscope_analysis::zones::{Watermark, ZonesView};

use crate::style::{self, Style, wrap};

/// The JSON schema name of `memscope zones`.
pub const ZONES_SCHEMA: &str = "memscope.zones/1";

/// Write the view as one JSON document.
pub fn write_json(w: &mut dyn Write, v: &ZonesView) -> io::Result<()> {
    crate::json::write_doc(w, ZONES_SCHEMA, v)
}

fn opt(v: Option<impl ToString>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// One row per zone (free blocks per order in `free_order_N` columns), or
/// with `--can-alloc` one row per zone's answer.
pub fn write_csv(w: &mut dyn Write, v: &ZonesView) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    if let Some(a) = &v.can_alloc {
        c.write_record([
            "node",
            "zone",
            "order",
            "count",
            "blocks",
            "enough",
            "free_after_pages",
            "watermark_after",
        ])?;
        for z in &a.zones {
            c.write_record([
                z.node.to_string(),
                z.zone.clone(),
                a.order.to_string(),
                a.count.to_string(),
                z.blocks.to_string(),
                z.enough.to_string(),
                opt(z.free_after_pages),
                z.watermark_after.map(|w| w.name().to_string()).unwrap_or_default(),
            ])?;
        }
        return c.flush();
    }
    let orders = v.zones.iter().filter_map(|z| z.free_blocks.as_ref().map(Vec::len)).max().unwrap_or(0);
    let mut header: Vec<String> = [
        "node",
        "zone",
        "spanned_pages",
        "present_pages",
        "managed_pages",
        "free_pages",
        "min_pages",
        "low_pages",
        "high_pages",
        "watermark",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend((0..orders).map(|o| format!("free_order_{o}")));
    c.write_record(&header)?;
    for z in &v.zones {
        let mut row = vec![
            z.node.to_string(),
            z.zone.clone(),
            opt(z.spanned_pages),
            opt(z.present_pages),
            opt(z.managed_pages),
            opt(z.free_pages),
            opt(z.min_pages),
            opt(z.low_pages),
            opt(z.high_pages),
            z.watermark.map(|w| w.name().to_string()).unwrap_or_default(),
        ];
        for o in 0..orders {
            row.push(opt(z.free_blocks.as_ref().and_then(|f| f.get(o))));
        }
        c.write_record(&row)?;
    }
    c.flush()
}

fn watermark_cell(s: &Style, w: Option<Watermark>) -> Cell {
    match w {
        None => Cell::new("?"),
        Some(w) => {
            let text = format!("{} ({})", w.name(), w.meaning());
            match w {
                Watermark::AboveHigh => s.dim(text),
                Watermark::BelowHigh => Cell::new(text),
                Watermark::BelowLow => s.colored(text, Color::Yellow),
                Watermark::BelowMin => s.colored(text, Color::Red),
            }
        }
    }
}

/// Write the view as readable tables.
pub fn write_table(w: &mut dyn Write, v: &ZonesView, s: &Style) -> io::Result<()> {
    let mut guard = s.guard(w);
    let w: &mut dyn Write = &mut guard;
    let page = v.page_size_bytes;
    let pages =
        |p: Option<u64>| p.map(|p| fmt_bytes(p.saturating_mul(page) as i64)).unwrap_or_else(|| "-".into());
    if let Some(a) = &v.can_alloc {
        let answer = if a.possible { "yes" } else { "no" };
        writeln!(
            w,
            "{}",
            s.heading(&format!(
                "Can {} block{} of order {} ({} each) be allocated now? {answer}: the free lists hold {} such block{}.",
                a.count,
                if a.count == 1 { "" } else { "s" },
                a.order,
                fmt_bytes(a.block_bytes as i64),
                a.total_blocks,
                if a.total_blocks == 1 { "" } else { "s" }
            ))
        )?;
        let mut t = s.table(&["node", "zone", "blocks", "enough", "free after", "then"]);
        for z in &a.zones {
            t.add_row(vec![
                s.num(z.node),
                Cell::new(&z.zone),
                s.num(z.blocks),
                if z.enough { Cell::new("yes") } else { s.colored("no", Color::Yellow) },
                s.num(match z.free_after_pages {
                    Some(p) => fmt_bytes(p.saturating_mul(page as i64)),
                    None => "-".into(),
                }),
                match z.watermark_after {
                    Some(_) => watermark_cell(s, z.watermark_after),
                    None => s.dim("-"),
                },
            ]);
        }
        style::write_table(w, &t)?;
        writeln!(
            w,
            "{}",
            wrap(
                "Blocks are counted from /proc/buddyinfo: every free block of a larger order splits into blocks of \
                 this one. An allocation also needs its zone to stay above its min watermark, may only use the \
                 zones its flags allow (DMA, DMA32, Normal, Movable) and competes with every other allocation.",
                s.width,
                "",
                ""
            )
        )?;
        return write_notes(w, v, s);
    }

    writeln!(w, "{}", s.heading(&format!("Zones (page size {})", fmt_bytes(page as i64))))?;
    let mut t =
        s.table(&["node", "zone", "present", "managed", "free", "min", "low", "high", "free vs watermarks"]);
    for z in &v.zones {
        t.add_row(vec![
            s.num(z.node),
            Cell::new(&z.zone),
            s.num(pages(z.present_pages)),
            s.num(pages(z.managed_pages)),
            s.num(pages(z.free_pages)),
            s.num(pages(z.min_pages)),
            s.num(pages(z.low_pages)),
            s.num(pages(z.high_pages)),
            watermark_cell(s, z.watermark),
        ]);
    }
    style::write_table(w, &t)?;

    let orders = v.zones.iter().filter_map(|z| z.free_blocks.as_ref().map(Vec::len)).max().unwrap_or(0);
    if orders > 0 {
        let order_names: Vec<String> = (0..orders).map(|o| o.to_string()).collect();
        writeln!(w, "\n{}", s.heading("Free blocks per order (/proc/buddyinfo); order n is 2^n pages"))?;
        let mut header = vec!["node", "zone"];
        header.extend(order_names.iter().map(String::as_str));
        header.push("largest free");
        let mut t = s.table(&header);
        for z in &v.zones {
            let Some(f) = &z.free_blocks else { continue };
            let mut row = vec![s.num(z.node), Cell::new(&z.zone)];
            row.extend((0..orders).map(|o| s.num(opt(f.get(o)))));
            row.push(s.num(match z.largest_free_order {
                Some(o) => format!("{} (order {o})", fmt_bytes((page << o) as i64)),
                None => "none".into(),
            }));
            t.add_row(row);
        }
        style::write_table(w, &t)?;

        writeln!(
            w,
            "\n{}",
            s.heading(
                "Unusable free space index per order (0: all free memory could serve the order; 1: none)"
            )
        )?;
        let mut header = vec!["node", "zone"];
        header.extend(order_names.iter().map(String::as_str));
        let mut t = s.table(&header);
        for z in v.zones.iter().filter(|z| !z.unusable_index.is_empty()) {
            let mut row = vec![s.num(z.node), Cell::new(&z.zone)];
            row.extend(z.unusable_index.iter().map(|x| {
                let text = format!("{x:.3}");
                if *x >= 0.9 { s.colored(text, Color::Yellow) } else { s.num(text) }
            }));
            t.add_row(row);
        }
        style::write_table(w, &t)?;

        let typed: Vec<_> = v
            .zones
            .iter()
            .flat_map(|z| z.free_by_type.iter())
            .filter(|f| s.all || f.free_blocks.iter().any(|n| *n > 0))
            .collect();
        if !typed.is_empty() {
            writeln!(w, "\n{}", s.heading("Free blocks per order and migrate type (/proc/pagetypeinfo)"))?;
            let mut header = vec!["node", "zone", "type"];
            header.extend(order_names.iter().map(String::as_str));
            let mut t = s.table(&header);
            for f in typed {
                let mut row = vec![s.num(f.node), Cell::new(&f.zone), Cell::new(&f.migrate_type)];
                row.extend((0..orders).map(|o| {
                    let n = opt(f.free_blocks.get(o));
                    s.num(if f.at_least_orders.contains(&o) { format!(">{n}") } else { n })
                }));
                t.add_row(row);
            }
            style::write_table(w, &t)?;
        }
        let blocks: Vec<_> = v.zones.iter().filter_map(|z| Some((z, z.blocks_by_type.as_ref()?))).collect();
        if let Some((_, first)) = blocks.first() {
            let types: Vec<&str> = first.keys().map(String::as_str).collect();
            let size = v
                .page_block_order
                .map(|o| format!(" of {}", fmt_bytes((page << o) as i64)))
                .unwrap_or_default();
            writeln!(w, "\n{}", s.heading(&format!("Page blocks{size} per migrate type")))?;
            let mut header = vec!["node", "zone"];
            header.extend(types.iter());
            let mut t = s.table(&header);
            for (z, b) in &blocks {
                let mut row = vec![s.num(z.node), Cell::new(&z.zone)];
                row.extend(types.iter().map(|k| s.num(opt(b.get(*k)))));
                t.add_row(row);
            }
            style::write_table(w, &t)?;
        }
    }
    write_notes(w, v, s)
}

fn write_notes(w: &mut dyn Write, v: &ZonesView, s: &Style) -> io::Result<()> {
    if let Some(why) = &v.buddyinfo_unavailable {
        writeln!(
            w,
            "{}",
            wrap(&format!("Free blocks per order are unavailable: {why}."), s.width, "- ", "  ")
        )?;
    }
    for n in &v.notes {
        writeln!(w, "{}", wrap(n, s.width, "- ", "  "))?;
    }
    Ok(())
}
