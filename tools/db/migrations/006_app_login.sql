-- The application logs in as bank_app itself, never as the owner: no superuser, no role or
-- database creation, no replication, no row-security bypass, a member of no other role, and
-- the owner of nothing (every table stays the migration owner's). It has only the grants of
-- 003 and later migrations, so its connection cannot SET ROLE to the owner, disable the
-- append-only triggers or touch audit rows. If the server asks for a password, `python -m
-- tools.db migrate` sets it from BANK_APP_DB_PASSWORD.
ALTER ROLE bank_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
-- Nobody but the owner creates objects in the schema (PUBLIC could before PostgreSQL 15).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
