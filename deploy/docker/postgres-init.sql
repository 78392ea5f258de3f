-- One database per service, owned by the role the services log in as (POSTGRES_USER=heat).
-- Run once by the postgres image, on an empty data volume.
CREATE DATABASE intake OWNER heat;
CREATE DATABASE dispatch OWNER heat;
CREATE DATABASE followup OWNER heat;
