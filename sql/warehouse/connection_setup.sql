-- Settings every connection gets: the ETL never downloads or loads extension code.
-- A script of two statements (run with execute_batch).
SET autoinstall_known_extensions = false;
SET autoload_known_extensions = false;
