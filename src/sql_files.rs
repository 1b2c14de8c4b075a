//! SQL statements kept in files under `sql/` and read at compile time, each carried with
//! its path so that an error names the file at fault.

/// One statement from a file under `sql/`: comments, the statement, its closing `;`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlFile {
    /// Relative to the crate root, e.g. `sql/report/revenue.sql`.
    pub path: &'static str,
    /// The file as written.
    pub text: &'static str,
}

impl SqlFile {
    /// The text without its closing `;` and trailing blanks: what can be nested as a
    /// subquery or printed followed by `;`.
    pub fn statement(&self) -> &'static str {
        self.text.trim_end().trim_end_matches(';').trim_end()
    }
}

/// `sql_file!("report/revenue.sql")`: the [`SqlFile`] for `sql/report/revenue.sql`.
macro_rules! sql_file {
    ($path:literal) => {
        $crate::sql_files::SqlFile {
            path: concat!("sql/", $path),
            text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/", $path)),
        }
    };
}
pub(crate) use sql_file;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_loses_its_closing_semicolon_and_keeps_its_comments() {
        let file = SqlFile {
            path: "sql/x.sql",
            text: "-- what it does\nSELECT 1 ;\n\n",
        };
        assert_eq!(file.statement(), "-- what it does\nSELECT 1");
    }

    #[test]
    fn the_macro_reads_the_file_under_sql() {
        let file = sql_file!("cli/known_bots.sql");
        assert_eq!(file.path, "sql/cli/known_bots.sql");
        let on_disk = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sql/cli/known_bots.sql"
        ))
        .expect("read the file");
        assert_eq!(file.text, on_disk);
    }
}
