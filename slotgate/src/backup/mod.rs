//! `slotgate backup create|list|verify|restore`: cluster backups as one RDB file per master,
//! received over the network the way a replica receives it, with a manifest of checksums and
//! slot ranges; restore into a running cluster of any shape.

mod create;
#[cfg(test)]
mod fake;
mod fetch;
mod manifest;
mod progress;
mod rdbfile;
mod restore;
mod verify;

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::output::{human_bytes, paint, Table, Tone};
use crate::Status;

#[derive(Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: BackupCommand,
}

#[derive(Subcommand)]
pub enum BackupCommand {
    /// BGSAVE every master, receive each one's RDB, check it, and write DIR/<backup-id>/.
    Create(create::CreateArgs),
    /// The backups under DIR.
    List(ListArgs),
    /// Checksums, whole RDB files, slot coverage and key placement of a backup.
    Verify(verify::VerifyArgs),
    /// Restore a backup into a running cluster (any number of masters).
    Restore(restore::RestoreArgs),
}

#[derive(Args)]
pub struct ListArgs {
    /// Directory holding backups (as `backup create` made them).
    pub dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &BackupArgs) -> Result<Status, String> {
    match &a.command {
        BackupCommand::Create(a) => create::run(a),
        BackupCommand::List(a) => list(a),
        BackupCommand::Verify(a) => verify::run(a),
        BackupCommand::Restore(a) => restore::run(a),
    }
}

#[derive(serde::Serialize)]
struct Listed {
    id: String,
    dir: PathBuf,
    started_at: String,
    finished_at: String,
    masters: usize,
    keys: u64,
    size: u64,
    compression: String,
    success: bool,
}

fn list(a: &ListArgs) -> Result<Status, String> {
    let found = manifest::scan(&a.dir)?;
    let rows: Vec<Listed> = found
        .into_iter()
        .map(|(dir, m)| Listed {
            id: m.id.clone(),
            dir,
            started_at: m.started_at.clone(),
            finished_at: m.finished_at.clone(),
            masters: m.masters.len(),
            keys: m.keys(),
            size: m.size(),
            compression: m.compression.clone(),
            success: m.success,
        })
        .collect();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?);
        return Ok(Status::Ok);
    }
    let mut t = Table::new(&["id", "time", "masters", "keys", "size", "success"]);
    for r in &rows {
        t.row(vec![
            (r.id.clone(), Tone::Plain),
            (r.started_at.clone(), Tone::Plain),
            (r.masters.to_string(), Tone::Plain),
            (r.keys.to_string(), Tone::Plain),
            (human_bytes(r.size), Tone::Plain),
            if r.success { ("yes".into(), Tone::Good) } else { (paint("no", Tone::Bad), Tone::Plain) },
        ]);
    }
    print!("{}", t.render());
    if rows.is_empty() {
        println!("(no backups in {})", a.dir.display());
    }
    Ok(Status::Ok)
}
