-- The PostgreSQL layout of a shared firepoint store (docs/DEPLOY.md, "A city or province").
-- Run once as the postgres superuser:  sudo -u postgres psql -v ON_ERROR_STOP=1 -f setup.sql
-- then set each login role's password:  sudo -u postgres psql -c '\password firepoint_worker'
--
-- One database per store. Its tables are made (and migrated after an upgrade) by the first
-- firepoint that connects, so every role that runs firepoint acts as the owner role `firepoint`:
--   firepoint          NOLOGIN  owns the database and every table firepoint creates
--   firepoint_worker   LOGIN    `firepoint run` on the worker machines (analysis, the recorder)
--   firepoint_feed     LOGIN    `firepoint serve` (the feed's reads and the teams' steps), `notify`,
--                               `report`, `tickets`, `token` on the office machine
--   firepoint_read     LOGIN    read only: dashboards, analysts, a BI tool (never firepoint itself:
--                               firepoint's commands open the store for writing)
-- A login role's sessions run as `firepoint` (ALTER ROLE … SET role), so whatever it creates is
-- owned by `firepoint` and every firepoint role can use it; each machine's credentials can be
-- revoked on their own, and pg_stat_activity says who is connected.

CREATE ROLE firepoint NOLOGIN;
CREATE ROLE firepoint_worker LOGIN IN ROLE firepoint CONNECTION LIMIT 64;
CREATE ROLE firepoint_feed LOGIN IN ROLE firepoint CONNECTION LIMIT 64;
CREATE ROLE firepoint_read LOGIN CONNECTION LIMIT 16;
ALTER ROLE firepoint_worker SET role = 'firepoint';
ALTER ROLE firepoint_feed SET role = 'firepoint';
ALTER ROLE firepoint_read SET default_transaction_read_only = on;

CREATE DATABASE firepoint OWNER firepoint ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE firepoint FROM PUBLIC;
GRANT CONNECT ON DATABASE firepoint TO firepoint_worker, firepoint_feed, firepoint_read;

\connect firepoint
-- PostgreSQL 15 already keeps PUBLIC from creating in the public schema; said for older servers
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO firepoint;
GRANT USAGE ON SCHEMA public TO firepoint_read;
-- the tables firepoint creates later are readable by firepoint_read
ALTER DEFAULT PRIVILEGES FOR ROLE firepoint IN SCHEMA public GRANT SELECT ON TABLES TO firepoint_read;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO firepoint_read;
