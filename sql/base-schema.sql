-- =================================================================================================
-- crm-env base schema: makes a plain PostgreSQL 15+ database look like a Supabase database to SQL
-- written for real Supabase (roles, grants, `extensions`, `auth.users`/`auth.identities`,
-- auth.uid()/role()/email()/jwt(), a minimal `storage`).
--
-- GUARD: NEVER apply this to a real Supabase database. crm-env skips this file when the table
-- `auth.schema_migrations` exists (GoTrue's own migration history => real Supabase / supabase image).
-- This file never creates that table, and the first statement below refuses to run if it exists.
--
-- How to apply: send the whole file as ONE simple-query string (node-postgres `client.query(text)`
-- without parameters, or `psql -c "$(cat base-schema.sql)"`). Postgres then runs all statements as
-- one implicit transaction: all-or-nothing, and the lock taken by the first DO block below is held
-- to the end, which serialises concurrent appliers (any database on the same server). No psql
-- meta-commands are used. `psql -f` (one transaction per statement) also works; then only the
-- cluster-wide role section is serialised, the rest relies on IF NOT EXISTS / exception handlers.
--
-- Idempotent: a second application succeeds and changes nothing (objects are created only when
-- missing, CREATE OR REPLACE with identical bodies, ALTERs only when a value differs, GRANTs that
-- already exist are no-ops). A re-application takes no table locks that would wait for (or block)
-- open transactions writing auth/storage tables.
--
-- Sources (see /work/shared/notes/supabase-facts.md sections 1-3; "dump" = pg_dump of a current
-- Supabase project, which shows the net result of all migrations):
--   supabase/postgres  migrations/db/init-scripts/00000000000000-initial-schema.sql (roles, grants)
--                      migrations/db/init-scripts/00000000000001-auth-schema.sql
--                      migrations/db/init-scripts/00000000000002-storage-schema.sql
--                      migrations/db/init-scripts/00000000000003-post-setup.sql (search_path)
--                      migrations/db/migrations/20230529180330_alter_api_roles_for_inherit.sql etc.
--   supabase/auth      migrations/*.up.sql (auth.users / auth.identities / functions)
--   supabase/storage   migrations/tenant/0002-storage-schema.sql, 0025-custom-metadata.sql
-- =================================================================================================


-- -------------------------------------------------------------------------------------------------
-- 0. Refuse to run on real Supabase (see GUARD above).
-- -------------------------------------------------------------------------------------------------
do $guard$
begin
  -- Re-applying prints one "already exists, skipping" NOTICE per object; keep the output quiet for
  -- the rest of this transaction (is_local = true, so nothing leaks past the file).
  perform set_config('client_min_messages', 'warning', true);
  if to_regclass('auth.schema_migrations') is not null then
    raise exception 'crm-env base schema: auth.schema_migrations exists, this is a real Supabase database; not applying'
      using hint = 'The Supabase stand-in is only for plain PostgreSQL.';
  end if;
end
$guard$;


-- -------------------------------------------------------------------------------------------------
-- 1. Cluster-wide part: roles, role attributes, memberships, role settings.
--
-- Roles live in the shared catalogs, so another database on the same server may create them at the
-- same moment. Everything cluster-wide is in this ONE block, which first takes SHARE ROW EXCLUSIVE
-- on pg_authid. pg_authid is a shared relation, so that lock is cluster-wide (unlike advisory locks,
-- which are per database) and self-conflicting: a second applier waits here until the first one
-- commits, then finds everything in place. It does not block logins (they take ACCESS SHARE).
-- The per-statement exception handlers are a second line of defence for appliers that do not hold
-- the lock (a non-superuser, or some other tool creating the same roles).
-- Role attributes as on Supabase (facts section 3; initial-schema.sql, 20230529180330, ...):
--   anon, authenticated: NOLOGIN INHERIT          service_role: NOLOGIN INHERIT BYPASSRLS
--   authenticator: LOGIN NOINHERIT (no password; member of the three API roles)
--   supabase_auth_admin / supabase_storage_admin: own the auth / storage objects (NOLOGIN here;
--   LOGIN on Supabase, where the GoTrue / Storage services connect as them).
-- -------------------------------------------------------------------------------------------------
do $roles$
declare
  spec record;
  role_row pg_roles%rowtype;
  member_name text;
  api_role text;
begin
  if exists (select 1 from pg_roles where rolname = current_user and rolsuper) then
    lock table pg_catalog.pg_authid in share row exclusive mode;
  else
    -- Cannot lock a catalog without superuser; at least serialise appliers within this database.
    perform pg_advisory_xact_lock(hashtext('crm-env base-schema'));
  end if;

  -- 1a. Create missing roles; fix the security-relevant attributes of existing API roles.
  for spec in
    select *
    from (values
      -- name,                    login, inherit, bypassrls, enforce attributes if it already exists
      ('anon',                    false, true,    false,     true),
      ('authenticated',           false, true,    false,     true),
      ('service_role',            false, true,    true,      true),
      ('authenticator',           true,  false,   false,     true),
      ('supabase_auth_admin',     false, false,   false,     false),
      ('supabase_storage_admin',  false, false,   false,     false)
    ) as t (name, can_login, inherits, bypass_rls, enforce)
  loop
    select * into role_row from pg_roles where rolname = spec.name;
    if not found then
      begin
        execute format('create role %I %s %s %s',
          spec.name,
          case when spec.can_login then 'login' else 'nologin' end,
          case when spec.inherits then 'inherit' else 'noinherit' end,
          case when spec.bypass_rls then 'bypassrls' else 'nobypassrls' end);
      exception when duplicate_object or unique_violation then
        null;  -- created concurrently by another session (possibly in another database)
      end;
    elsif spec.enforce then
      -- Pre-existing role (e.g. made by another tool): RLS tests are meaningless if anon is a
      -- superuser or service_role cannot bypass RLS, so align it. ALTER only what differs.
      if role_row.rolsuper then
        execute format('alter role %I nosuperuser', spec.name);
      end if;
      if role_row.rolcanlogin is distinct from spec.can_login then
        execute format('alter role %I %s', spec.name,
          case when spec.can_login then 'login' else 'nologin' end);
      end if;
      if role_row.rolinherit is distinct from spec.inherits then
        execute format('alter role %I %s', spec.name,
          case when spec.inherits then 'inherit' else 'noinherit' end);
      end if;
      if role_row.rolbypassrls is distinct from spec.bypass_rls then
        execute format('alter role %I %s', spec.name,
          case when spec.bypass_rls then 'bypassrls' else 'nobypassrls' end);
      end if;
    end if;
  end loop;

  -- 1b. Memberships. authenticator may SET ROLE to each API role (initial-schema.sql; its
  -- supabase_admin membership was revoked in 20221103090837_revoke_admin.sql). `postgres` is a
  -- member of the three on Supabase (20230201083204_grant_auth_roles_to_postgres.sql); the applying
  -- role gets the same so a non-superuser applier can impersonate them. Superusers are skipped: they
  -- can SET ROLE to anything anyway, and PostgreSQL 16+ refuses any membership for the bootstrap
  -- superuser (which `postgres` is on a plain server created with `initdb -U postgres`).
  foreach member_name in array array['authenticator', 'postgres', current_user::text] loop
    continue when not exists (select 1 from pg_roles where rolname = member_name and not rolsuper);
    foreach api_role in array array['anon', 'authenticated', 'service_role'] loop
      continue when member_name = api_role;
      continue when exists (
        select 1
        from pg_auth_members m
        where m.roleid = (select oid from pg_roles where rolname = api_role)
          and m.member = (select oid from pg_roles where rolname = member_name));
      begin
        execute format('grant %I to %I', api_role, member_name);
      exception when duplicate_object or unique_violation then
        null;  -- granted concurrently
      end;
    end loop;
  end loop;

  -- 1c. Role-level settings (cluster-wide, database-independent; ALTER only when different).
  --   postgres: search_path "$user", public, extensions (00000000000003-post-setup.sql), so
  --             unqualified crypt()/gen_salt()/uuid_generate_v4() resolve as on Supabase.
  --   anon 3s / authenticated 8s statement_timeout (initial-schema.sql); authenticator 8s
  --   statement_timeout and lock_timeout; supabase_auth_admin -> auth, supabase_storage_admin ->
  --   storage search_path (auth-schema.sql, storage-schema.sql). These apply only to sessions that
  --   log in as the role (or to PostgREST's per-role settings), not to SET ROLE.
  for spec in
    select *
    from (values
      ('postgres',               'search_path', '"$user", public, extensions'),
      ('anon',                   'statement_timeout', '3s'),
      ('authenticated',          'statement_timeout', '8s'),
      ('authenticator',          'statement_timeout', '8s'),
      ('authenticator',          'lock_timeout', '8s'),
      ('supabase_auth_admin',    'search_path', 'auth'),
      ('supabase_storage_admin', 'search_path', 'storage')
    ) as t (name, setting, value)
  loop
    continue when not exists (select 1 from pg_roles where rolname = spec.name);
    continue when exists (
      select 1
      from pg_db_role_setting s
      cross join lateral unnest(s.setconfig) as c (entry)
      where s.setdatabase = 0
        and s.setrole = (select oid from pg_roles where rolname = spec.name)
        and c.entry = spec.setting || '=' || spec.value);
    -- search_path is a list: the value is spliced in unquoted; the others are single literals.
    if spec.setting = 'search_path' then
      execute format('alter role %I set search_path = %s', spec.name, spec.value);
    else
      execute format('alter role %I set %I = %L', spec.name, spec.setting, spec.value);
    end if;
  end loop;
end
$roles$;


-- -------------------------------------------------------------------------------------------------
-- 2. Schema `extensions` with pgcrypto and uuid-ossp (initial-schema.sql), so that
--    extensions.crypt(), extensions.gen_salt('bf'), extensions.uuid_generate_v4() work.
-- -------------------------------------------------------------------------------------------------
do $ext$
declare
  ext_name text;
begin
  begin
    create schema if not exists extensions;
  exception when duplicate_schema or unique_violation then
    null;  -- created concurrently in this database
  end;

  foreach ext_name in array array['uuid-ossp', 'pgcrypto'] loop
    -- IF NOT EXISTS semantics: an extension already installed in another schema (e.g. public) is
    -- left where it is (moving it could break existing code); see the wrappers below.
    continue when exists (select 1 from pg_extension where extname = ext_name);
    begin
      execute format('create extension %I with schema extensions', ext_name);
    exception when duplicate_object or unique_violation then
      null;  -- created concurrently in this database
    end;
  end loop;
end
$ext$;

-- If pgcrypto / uuid-ossp were already installed in another schema, give `extensions` thin SQL
-- wrappers with the same signatures (e.g. extensions.crypt(text, text) -> public.crypt(text, text)),
-- so Supabase-style qualified calls still work. Only plain functions (no set-returning functions,
-- no OUT parameters) are wrapped; existing functions in `extensions` are never replaced. No-op when
-- the extensions live in `extensions` (the normal case).
do $wrap$
declare
  fn record;
begin
  for fn in
    select p.oid, p.proname, n.nspname, p.pronargs, p.provolatile, p.proisstrict, p.proparallel
    from pg_extension e
    join pg_depend d
      on d.refclassid = 'pg_catalog.pg_extension'::regclass
     and d.refobjid = e.oid
     and d.classid = 'pg_catalog.pg_proc'::regclass
     and d.deptype = 'e'
    join pg_proc p on p.oid = d.objid
    join pg_namespace n on n.oid = p.pronamespace
    where e.extname in ('pgcrypto', 'uuid-ossp')
      and n.nspname <> 'extensions'
      and p.prokind = 'f'
      and not p.proretset
      and p.proallargtypes is null
    order by p.oid
  loop
    continue when exists (
      select 1
      from pg_proc q
      where q.pronamespace = 'extensions'::regnamespace
        and q.proname = fn.proname
        and q.proargtypes = (select proargtypes from pg_proc where oid = fn.oid));
    execute format(
      'create function extensions.%I(%s) returns %s language sql %s %s parallel %s as %L',
      fn.proname,
      pg_get_function_arguments(fn.oid),
      pg_get_function_result(fn.oid),
      case fn.provolatile when 'i' then 'immutable' when 's' then 'stable' else 'volatile' end,
      case when fn.proisstrict then 'strict' else 'called on null input' end,
      case fn.proparallel when 's' then 'safe' when 'r' then 'restricted' else 'unsafe' end,
      format('select %I.%I(%s)', fn.nspname, fn.proname,
        (select string_agg('$' || i, ', ' order by i) from generate_series(1, fn.pronargs) as i)));
  end loop;
end
$wrap$;


-- -------------------------------------------------------------------------------------------------
-- 3. Schemas auth and storage (created here so the grants in section 4 can name them).
--    On Supabase both are owned by supabase_admin; here by the applying role.
-- -------------------------------------------------------------------------------------------------
do $schemas$
begin
  begin
    create schema if not exists auth;
  exception when duplicate_schema or unique_violation then
    null;
  end;
  begin
    create schema if not exists storage;
  exception when duplicate_schema or unique_violation then
    null;
  end;
end
$schemas$;


-- -------------------------------------------------------------------------------------------------
-- 4. Schema-level grants and default privileges (initial-schema.sql, auth-schema.sql,
--    storage-schema.sql). `postgres` is named only if that role exists. The public-schema default
--    privileges make every new table/function/sequence created in `public` (by the applying role,
--    and by `postgres`) fully granted to the API roles, as on Supabase; RLS is then the only guard.
--    Nothing is granted on objects that already exist in `public`.
-- -------------------------------------------------------------------------------------------------
do $grants$
declare
  has_postgres boolean := exists (select 1 from pg_roles where rolname = 'postgres');
  api_roles text;
  object_kind text;
begin
  api_roles := case when has_postgres then 'postgres, ' else '' end
               || 'anon, authenticated, service_role';

  execute 'grant usage on schema public to ' || api_roles;
  execute 'grant usage on schema extensions to ' || api_roles;
  execute 'grant usage on schema auth to ' || api_roles;
  execute 'grant usage on schema storage to ' || api_roles;
  grant all on schema auth to supabase_auth_admin;
  grant all on schema storage to supabase_storage_admin with grant option;

  foreach object_kind in array array['tables', 'functions', 'sequences'] loop
    execute format('alter default privileges in schema public grant all on %s to %s',
      object_kind, api_roles);
    if has_postgres and current_user <> 'postgres' then
      execute format('alter default privileges for role postgres in schema public grant all on %s to %s',
        object_kind, api_roles);
    end if;
    -- Objects the storage admin creates are API-visible (storage-schema.sql); those of the auth
    -- admin go to postgres only (20211115181400_update-auth-permissions.sql).
    execute format('alter default privileges for role supabase_storage_admin in schema storage grant all on %s to %s',
      object_kind, api_roles);
    if has_postgres then
      execute format('alter default privileges for role supabase_auth_admin in schema auth grant all on %s to postgres',
        object_kind);
    end if;
  end loop;
end
$grants$;


-- -------------------------------------------------------------------------------------------------
-- 5. auth.users: GoTrue's current columns, in its column order (net result of supabase/auth
--    migrations 00_init_auth_schema ... 20240214120130_add_is_anonymous_column; matches the dump).
--    No DB defaults on the token columns, created_at, updated_at: a direct INSERT must set them
--    (confirmation_token, recovery_token, email_change_token_new, email_change = '' or GoTrue fails
--    with "Database error querying schema", facts 1.3). confirmed_at is generated: never insert it.
-- -------------------------------------------------------------------------------------------------
do $auth_users$
begin
  -- Table, its constraints and comments only when missing, so that a re-application takes no lock
  -- on an existing auth.users (see the note on indexes below).
  if to_regclass('auth.users') is null then
    create table auth.users (
      instance_id uuid,
      id uuid not null,
      aud character varying(255),
      role character varying(255),
      email character varying(255),
      encrypted_password character varying(255),
      email_confirmed_at timestamp with time zone,      -- the old confirmed_at (20210710035447)
      invited_at timestamp with time zone,
      confirmation_token character varying(255),
      confirmation_sent_at timestamp with time zone,
      recovery_token character varying(255),
      recovery_sent_at timestamp with time zone,
      email_change_token_new character varying(255),   -- the old email_change_token (20210730183235)
      email_change character varying(255),
      email_change_sent_at timestamp with time zone,
      last_sign_in_at timestamp with time zone,
      raw_app_meta_data jsonb,
      raw_user_meta_data jsonb,
      is_super_admin boolean,
      created_at timestamp with time zone,
      updated_at timestamp with time zone,
      phone text default null::character varying,      -- text since 20230116124310_alter_phone_type
      phone_confirmed_at timestamp with time zone,
      phone_change text default ''::character varying,
      phone_change_token character varying(255) default ''::character varying,
      phone_change_sent_at timestamp with time zone,
      confirmed_at timestamp with time zone
        generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,  -- 20210722035447
      email_change_token_current character varying(255) default ''::character varying,
      email_change_confirm_status smallint default 0,
      banned_until timestamp with time zone,
      reauthentication_token character varying(255) default ''::character varying,
      reauthentication_sent_at timestamp with time zone,
      is_sso_user boolean default false not null,       -- 20221215195500
      deleted_at timestamp with time zone,
      is_anonymous boolean default false not null,      -- 20240214120130
      constraint users_pkey primary key (id),
      constraint users_phone_key unique (phone),
      constraint users_email_change_confirm_status_check
        check (((email_change_confirm_status >= 0) and (email_change_confirm_status <= 2)))
    );
    comment on table auth.users is 'Auth: Stores user login data within a secure schema.';
    comment on column auth.users.is_sso_user is
      'Auth: Set this column to true when the account comes from SSO. These accounts can have duplicate emails.';
  end if;
end
$auth_users$;

-- Indexes are created only when missing, by name. (CREATE INDEX IF NOT EXISTS would take a SHARE
-- lock on the table before noticing the index exists, so re-applying the file would wait for, and
-- then block, every open transaction that writes auth.users.)
do $auth_users_indexes$
begin
  -- The old users_email_key UNIQUE was replaced by this partial index (20221215195500). It is on
  -- the raw value, so store emails lowercased, as GoTrue does.
  if to_regclass('auth.users_email_partial_key') is null then
    create unique index users_email_partial_key
      on auth.users using btree (email) where (is_sso_user = false);
    comment on index auth.users_email_partial_key is
      'Auth: A partial unique index that applies only when is_sso_user is false';
  end if;
  if to_regclass('auth.users_instance_id_email_idx') is null then
    create index users_instance_id_email_idx
      on auth.users using btree (instance_id, lower((email)::text));        -- 20220114185221
  end if;
  if to_regclass('auth.users_instance_id_idx') is null then
    create index users_instance_id_idx on auth.users using btree (instance_id);
  end if;
  if to_regclass('auth.users_is_anonymous_idx') is null then
    create index users_is_anonymous_idx on auth.users using btree (is_anonymous);
  end if;
  -- Token uniqueness ignores '', blanks and numeric OTPs, so many rows may hold '' (20220429102000).
  if to_regclass('auth.confirmation_token_idx') is null then
    create unique index confirmation_token_idx
      on auth.users using btree (confirmation_token)
      where ((confirmation_token)::text !~ '^[0-9 ]*$'::text);
  end if;
  if to_regclass('auth.recovery_token_idx') is null then
    create unique index recovery_token_idx
      on auth.users using btree (recovery_token)
      where ((recovery_token)::text !~ '^[0-9 ]*$'::text);
  end if;
  if to_regclass('auth.email_change_token_current_idx') is null then
    create unique index email_change_token_current_idx
      on auth.users using btree (email_change_token_current)
      where ((email_change_token_current)::text !~ '^[0-9 ]*$'::text);
  end if;
  if to_regclass('auth.email_change_token_new_idx') is null then
    create unique index email_change_token_new_idx
      on auth.users using btree (email_change_token_new)
      where ((email_change_token_new)::text !~ '^[0-9 ]*$'::text);
  end if;
  if to_regclass('auth.reauthentication_token_idx') is null then
    create unique index reauthentication_token_idx
      on auth.users using btree (reauthentication_token)
      where ((reauthentication_token)::text !~ '^[0-9 ]*$'::text);
  end if;
end
$auth_users_indexes$;


-- -------------------------------------------------------------------------------------------------
-- 6. auth.identities (20210909172000 create, 20221215195800 email column, 20231117164230 id pkey:
--    the old text `id` is now provider_id and the PK is a uuid). For the email provider GoTrue uses
--    provider_id = user id as text, identity_data {sub, email, email_verified, phone_verified}.
--    identities.email is generated: never insert it.
-- -------------------------------------------------------------------------------------------------
do $auth_identities$
begin
  if to_regclass('auth.identities') is null then
    create table auth.identities (
      provider_id text not null,
      user_id uuid not null,
      identity_data jsonb not null,
      provider text not null,
      last_sign_in_at timestamp with time zone,
      created_at timestamp with time zone,
      updated_at timestamp with time zone,
      email text generated always as (lower((identity_data ->> 'email'::text))) stored,
      id uuid default gen_random_uuid() not null,
      constraint identities_pkey primary key (id),
      constraint identities_provider_id_provider_unique unique (provider_id, provider),
      constraint identities_user_id_fkey
        foreign key (user_id) references auth.users (id) on delete cascade
    );
    comment on table auth.identities is 'Auth: Stores identities associated to a user.';
    comment on column auth.identities.email is
      'Auth: Email is a generated column that references the optional email property in the identity_data';
  end if;
  if to_regclass('auth.identities_email_idx') is null then
    create index identities_email_idx on auth.identities using btree (email text_pattern_ops);
    comment on index auth.identities_email_idx is 'Auth: Ensures indexed queries on the email column';
  end if;
  if to_regclass('auth.identities_user_id_idx') is null then
    create index identities_user_id_idx on auth.identities using btree (user_id);
  end if;
end
$auth_identities$;


-- -------------------------------------------------------------------------------------------------
-- 7. Table grants for auth (20240612123726_enable_rls_update_grants.up.sql,
--    10000000000000_demote-postgres.sql): `postgres` has ALL (+ SELECT with grant option). The API
--    roles get nothing on auth tables (as on Supabase: `select from auth.users` as authenticated is
--    "permission denied"). Ownership (supabase_auth_admin) and RLS (enabled, no policies): section 10.
--    The applying superuser bypasses all of this.
-- -------------------------------------------------------------------------------------------------
do $auth_grants$
begin
  if exists (select 1 from pg_roles where rolname = 'postgres') then
    grant all on table auth.users, auth.identities to postgres;
    grant select on table auth.users, auth.identities to postgres with grant option;
  end if;
end
$auth_grants$;


-- -------------------------------------------------------------------------------------------------
-- 8. auth.uid(), auth.role(), auth.email(), auth.jwt(): Supabase's current definitions
--    (20220224000811_update_auth_functions, 20220531120530_add_auth_jwt_function). The legacy
--    per-claim GUC request.jwt.claim.<x> wins, then the JSON GUC request.jwt.claims that PostgREST
--    sets; nullif(..., '') because an ended SET LOCAL leaves '' rather than NULL.
-- -------------------------------------------------------------------------------------------------
create or replace function auth.uid() returns uuid
  language sql stable
  as $$
  select
  coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
  language sql stable
  as $$
  select
  coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text
  language sql stable
  as $$
  select
  coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
  language sql stable
  as $$
  select
    coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

comment on function auth.uid() is 'Deprecated. Use auth.jwt() -> ''sub'' instead.';
comment on function auth.role() is 'Deprecated. Use auth.jwt() -> ''role'' instead.';
comment on function auth.email() is 'Deprecated. Use auth.jwt() -> ''email'' instead.';

grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to anon, authenticated, service_role;
do $auth_fn_grants$
begin
  if exists (select 1 from pg_roles where rolname = 'postgres') then
    grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt() to postgres;
  end if;
end
$auth_fn_grants$;


-- -------------------------------------------------------------------------------------------------
-- 9. storage: buckets and objects with the current columns (supabase/storage
--    migrations/tenant/0002-storage-schema.sql + later column additions; matches the dump),
--    the helper functions used in storage RLS policies. Unlike auth, the API roles have ALL on these
--    tables (storage-schema.sql default privileges) and RLS policies are the guard. Ownership
--    (supabase_storage_admin) and RLS: section 10.
--    Not replicated: object versioning/prefix tables, analytics/vector bucket tables, the search
--    functions, and the "prevent direct deletes" triggers (0050-prevent-direct-deletes.sql).
-- -------------------------------------------------------------------------------------------------
do $buckettype$
begin
  if to_regtype('storage.buckettype') is null then
    begin
      create type storage.buckettype as enum ('STANDARD', 'ANALYTICS', 'VECTOR');
    exception when duplicate_object or unique_violation then
      null;  -- created concurrently
    end;
  end if;
end
$buckettype$;

do $storage_tables$
begin
  -- Same pattern as auth: create tables and indexes only when missing, no locks on re-application.
  if to_regclass('storage.buckets') is null then
    create table storage.buckets (
      id text not null,
      name text not null,
      owner uuid,
      created_at timestamp with time zone default now(),
      updated_at timestamp with time zone default now(),
      public boolean default false,
      avif_autodetection boolean default false,
      file_size_limit bigint,
      allowed_mime_types text[],
      owner_id text,
      type storage.buckettype default 'STANDARD'::storage.buckettype not null,
      constraint buckets_pkey primary key (id)
    );
    comment on column storage.buckets.owner is 'Field is deprecated, use owner_id instead';
  end if;
  if to_regclass('storage.bname') is null then
    create unique index bname on storage.buckets using btree (name);
  end if;

  if to_regclass('storage.objects') is null then
    create table storage.objects (
      id uuid default gen_random_uuid() not null,
      bucket_id text,
      name text,
      owner uuid,
      created_at timestamp with time zone default now(),
      updated_at timestamp with time zone default now(),
      last_accessed_at timestamp with time zone default now(),
      metadata jsonb,
      path_tokens text[] generated always as (string_to_array(name, '/'::text)) stored,
      version text,
      owner_id text,
      user_metadata jsonb,
      constraint objects_pkey primary key (id),
      constraint "objects_bucketId_fkey" foreign key (bucket_id) references storage.buckets (id)
    );
    comment on column storage.objects.owner is 'Field is deprecated, use owner_id instead';
  end if;
  -- bucketid_objname is dropped by newer storage versions once object versioning is enabled; most
  -- projects still have it. Do not rely on it for upserts.
  if to_regclass('storage.bucketid_objname') is null then
    create unique index bucketid_objname on storage.objects using btree (bucket_id, name);
  end if;
  if to_regclass('storage.idx_objects_bucket_id_name') is null then
    create index idx_objects_bucket_id_name on storage.objects using btree (bucket_id, name collate "C");
  end if;
  if to_regclass('storage.name_prefix_search') is null then
    create index name_prefix_search on storage.objects using btree (name text_pattern_ops);
  end if;
end
$storage_tables$;

create or replace function storage.update_updated_at_column() returns trigger
  language plpgsql
  as $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;
do $objects_trigger$
begin
  -- Created only when missing: CREATE OR REPLACE TRIGGER would lock storage.objects on every run.
  if not exists (
    select 1 from pg_trigger
    where tgrelid = 'storage.objects'::regclass and tgname = 'update_objects_updated_at'
  ) then
    create trigger update_objects_updated_at
      before update on storage.objects
      for each row execute function storage.update_updated_at_column();
  end if;
end
$objects_trigger$;

-- Path helpers used in storage policies, e.g. (storage.foldername(name))[1] = auth.uid()::text
create or replace function storage.foldername(name text) returns text[]
  language plpgsql immutable
  as $$
DECLARE
    _parts text[];
BEGIN
    -- Split on "/" to get path segments
    SELECT string_to_array(name, '/') INTO _parts;
    -- Return everything except the last segment
    RETURN _parts[1 : array_length(_parts,1) - 1];
END
$$;

create or replace function storage.filename(name text) returns text
  language plpgsql
  as $$
DECLARE
_parts text[];
BEGIN
	select string_to_array(name, '/') into _parts;
	return _parts[array_length(_parts,1)];
END
$$;

create or replace function storage.extension(name text) returns text
  language plpgsql immutable
  as $$
DECLARE
    _parts text[];
    _filename text;
BEGIN
    SELECT string_to_array(name, '/') INTO _parts;
    SELECT _parts[array_length(_parts,1)] INTO _filename;
    RETURN reverse(split_part(reverse(_filename), '.', 1));
END
$$;

grant all on table storage.buckets, storage.objects to anon, authenticated, service_role;
grant execute on function storage.foldername(text), storage.filename(text), storage.extension(text)
  to anon, authenticated, service_role;
do $storage_grants$
begin
  if exists (select 1 from pg_roles where rolname = 'postgres') then
    grant all on table storage.buckets, storage.objects to postgres;
    grant execute on function storage.foldername(text), storage.filename(text),
      storage.extension(text) to postgres;
  end if;
end
$storage_grants$;


-- -------------------------------------------------------------------------------------------------
-- 10. Ownership and row-level security, as on Supabase:
--     auth tables and functions owned by supabase_auth_admin (20211124212715_update-auth-owner.sql),
--     RLS enabled on auth.users / auth.identities with no policies (20240612123726);
--     storage objects owned by supabase_storage_admin (0002-storage-schema.sql), RLS enabled on
--     storage.objects (0002) and storage.buckets (createBucket() needs an INSERT policy on
--     storage.buckets: supabase.com/docs/reference/javascript/storage-createbucket).
--     Each ALTER runs only when something differs: ALTER TABLE takes an ACCESS EXCLUSIVE lock, which
--     a re-application on a database in use should not need.
-- -------------------------------------------------------------------------------------------------
do $ownership$
declare
  rel record;
  fn record;
begin
  for rel in
    select t.name, c.relowner, c.relrowsecurity, r.oid as owner_oid, r.rolname as owner_name, t.rls
    from (values
      ('auth.users',      'supabase_auth_admin',    true),
      ('auth.identities', 'supabase_auth_admin',    true),
      ('storage.buckets', 'supabase_storage_admin', true),
      ('storage.objects', 'supabase_storage_admin', true)
    ) as t (name, owner, rls)
    join pg_class c on c.oid = t.name::regclass
    join pg_roles r on r.rolname = t.owner
  loop
    if rel.relowner <> rel.owner_oid then
      execute format('alter table %s owner to %I', rel.name, rel.owner_name);
    end if;
    if rel.rls and not rel.relrowsecurity then
      execute format('alter table %s enable row level security', rel.name);
    end if;
  end loop;

  for fn in
    select t.signature, p.proowner, r.oid as owner_oid, r.rolname as owner_name
    from (values
      ('auth.uid()',                         'supabase_auth_admin'),
      ('auth.role()',                        'supabase_auth_admin'),
      ('auth.email()',                       'supabase_auth_admin'),
      ('auth.jwt()',                         'supabase_auth_admin'),
      ('storage.update_updated_at_column()', 'supabase_storage_admin'),
      ('storage.foldername(text)',           'supabase_storage_admin'),
      ('storage.filename(text)',             'supabase_storage_admin'),
      ('storage.extension(text)',            'supabase_storage_admin')
    ) as t (signature, owner)
    join pg_proc p on p.oid = t.signature::regprocedure
    join pg_roles r on r.rolname = t.owner
  loop
    if fn.proowner <> fn.owner_oid then
      execute format('alter function %s owner to %I', fn.signature, fn.owner_name);
    end if;
  end loop;

  if (select typowner from pg_type where oid = 'storage.buckettype'::regtype)
     <> (select oid from pg_roles where rolname = 'supabase_storage_admin') then
    alter type storage.buckettype owner to supabase_storage_admin;
  end if;
end
$ownership$;
