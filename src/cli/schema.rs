//! `cafleet schema`: the JSON Schema of the fleet file, for editors (`#:schema` comments)
//! and CI. The same text is committed as `schemas/fleet.schema.json`.

use std::process::ExitCode;

use super::print;
use crate::error::{Error, Result};

/// Print the JSON Schema of the fleet file (the same as schemas/fleet.schema.json)
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {}

/// The schema as committed: pretty JSON with a trailing newline.
pub fn schema_text() -> Result<String> {
    let mut text = serde_json::to_string_pretty(&crate::manifest::raw::json_schema())
        .map_err(|err| Error::failure(format!("cannot encode the schema: {err}")))?;
    text.push('\n');
    Ok(text)
}

pub fn run(_args: SchemaArgs) -> Result<ExitCode> {
    print(&schema_text()?)?;
    Ok(ExitCode::SUCCESS)
}
