-- Row-level security for the CRM tables (rules: docs/design/crm-schema.md, "Row-level security").
--
--   admin            everything on every table
--   sales_director   reads every row; inserts/updates/deletes only rows with sales_id = auth.uid()
--   account_manager  reads and writes only rows with sales_id = auth.uid()
--   segments, tags, products   read by any CRM user, written by admin only
--   sales            read by any CRM user; a user updates only their own row and only its
--                    name/phone/avatar columns; admin inserts/deletes and changes role/email/disabled
--   anon             nothing (no grants, no policies)
--
-- The caller's role comes from public.sales through public.current_user_role(), never from JWT or
-- user metadata (users can edit their own user_metadata).
--
-- "CRM user" = a signed-in user that has a public.sales row. Auth sign-up is open locally
-- ([auth.email] enable_signup), so a bare authenticated user without a sales row gets nothing.
--
-- Every policy is TO authenticated, so anon never matches one. service_role and the postgres
-- owner bypass RLS (BYPASSRLS / table owner); our tools connect as postgres.
-- Functions and auth.uid() are wrapped in (select ...) so Postgres evaluates them once per
-- statement (init plan) instead of once per row.

-- ---------------------------------------------------------------------------------------------
-- role helpers
-- ---------------------------------------------------------------------------------------------

-- SECURITY DEFINER: reads public.sales as its owner, so it neither recurses into the sales
-- policies nor needs the caller to see the row. search_path is empty; every name is qualified.
create function public.current_user_role()
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select s.role from public.sales as s where s.id = (select auth.uid());
$$;

comment on function public.current_user_role() is
  'The caller''s public.sales.role (admin | sales_director | account_manager), NULL without a sales row.';

create function public.is_admin()
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce(public.current_user_role() = 'admin', false);
$$;

create function public.can_read_all()
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce(public.current_user_role() in ('admin', 'sales_director'), false);
$$;

create function public.is_crm_user()
returns boolean
language sql
stable
set search_path = ''
as $$
  select public.current_user_role() is not null;
$$;

revoke execute on function public.current_user_role() from public, anon;
revoke execute on function public.is_admin() from public, anon;
revoke execute on function public.can_read_all() from public, anon;
revoke execute on function public.is_crm_user() from public, anon;
grant execute on function public.current_user_role() to authenticated, service_role;
grant execute on function public.is_admin() to authenticated, service_role;
grant execute on function public.can_read_all() to authenticated, service_role;
grant execute on function public.is_crm_user() to authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- sales: privileged columns
-- ---------------------------------------------------------------------------------------------

-- A user may update their own sales row (policy below), but role, email and disabled are admin
-- business: nobody raises their own role. Sessions that bypass RLS anyway (superuser, postgres,
-- service_role: rolsuper or rolbypassrls) are trusted, which is how our tools and the Supabase
-- admin API connect. SECURITY INVOKER on purpose: current_user must be the caller's role.
create function public.protect_sales_privileged_columns()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if (new.role, new.email, new.disabled) is distinct from (old.role, old.email, old.disabled)
    and not public.is_admin()
    and not exists (
      select 1 from pg_catalog.pg_roles as r
      where r.rolname = current_user and (r.rolsuper or r.rolbypassrls)
    )
  then
    raise exception 'only an admin can change role, email or disabled of a sales row'
      using errcode = '42501';
  end if;
  return new;
end;
$$;

create trigger protect_privileged_columns before update on public.sales
  for each row execute function public.protect_sales_privileged_columns();

-- ---------------------------------------------------------------------------------------------
-- grants: explicit, so the result does not depend on the project's default privileges
-- ([api] auto_expose_new_tables). authenticated gets DML only (no TRUNCATE, which RLS does not
-- cover); anon gets nothing.
-- ---------------------------------------------------------------------------------------------

revoke all on table
  public.sales, public.segments, public.tags, public.organizations, public.contacts,
  public."contactNotes", public.opportunities, public.deals, public."dealNotes",
  public.activities, public.tasks, public.products
  from anon, authenticated;

grant select, insert, update, delete on table
  public.sales, public.segments, public.tags, public.organizations, public.contacts,
  public."contactNotes", public.opportunities, public.deals, public."dealNotes",
  public.activities, public.tasks, public.products
  to authenticated;

grant all on table
  public.sales, public.segments, public.tags, public.organizations, public.contacts,
  public."contactNotes", public.opportunities, public.deals, public."dealNotes",
  public.activities, public.tasks, public.products
  to service_role;

-- identity sequences of the reference tables (inserts with generated ids)
revoke all on sequence public.segments_id_seq, public.tags_id_seq from anon, authenticated;
grant usage, select on sequence public.segments_id_seq, public.tags_id_seq to authenticated;
grant all on sequence public.segments_id_seq, public.tags_id_seq to service_role;

-- ---------------------------------------------------------------------------------------------
-- policies: sales
-- ---------------------------------------------------------------------------------------------

create policy sales_select on public.sales for select to authenticated
  using ((select public.is_crm_user()));
create policy sales_insert on public.sales for insert to authenticated
  with check ((select public.is_admin()));
-- own row only, and it stays the caller's row; column limits: protect_privileged_columns trigger
create policy sales_update on public.sales for update to authenticated
  using ((select public.is_admin()) or id = (select auth.uid()))
  with check ((select public.is_admin()) or id = (select auth.uid()));
create policy sales_delete on public.sales for delete to authenticated
  using ((select public.is_admin()));

-- ---------------------------------------------------------------------------------------------
-- policies: reference data (segments, tags, products)
-- ---------------------------------------------------------------------------------------------

create policy segments_select on public.segments for select to authenticated
  using ((select public.is_crm_user()));
create policy segments_insert on public.segments for insert to authenticated
  with check ((select public.is_admin()));
create policy segments_update on public.segments for update to authenticated
  using ((select public.is_admin()))
  with check ((select public.is_admin()));
create policy segments_delete on public.segments for delete to authenticated
  using ((select public.is_admin()));

create policy tags_select on public.tags for select to authenticated
  using ((select public.is_crm_user()));
create policy tags_insert on public.tags for insert to authenticated
  with check ((select public.is_admin()));
create policy tags_update on public.tags for update to authenticated
  using ((select public.is_admin()))
  with check ((select public.is_admin()));
create policy tags_delete on public.tags for delete to authenticated
  using ((select public.is_admin()));

create policy products_select on public.products for select to authenticated
  using ((select public.is_crm_user()));
create policy products_insert on public.products for insert to authenticated
  with check ((select public.is_admin()));
create policy products_update on public.products for update to authenticated
  using ((select public.is_admin()))
  with check ((select public.is_admin()));
create policy products_delete on public.products for delete to authenticated
  using ((select public.is_admin()));
-- ---------------------------------------------------------------------------------------------
-- policies: owned entities (owner = sales_id). WITH CHECK on update keeps a non-admin from
-- handing a row to another owner; insert lets non-admins create rows only for themselves.
-- ---------------------------------------------------------------------------------------------

create policy organizations_select on public.organizations for select to authenticated
  using ((select public.can_read_all()) or sales_id = (select auth.uid()));
create policy organizations_insert on public.organizations for insert to authenticated
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy organizations_update on public.organizations for update to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()))
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy organizations_delete on public.organizations for delete to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()));

create policy contacts_select on public.contacts for select to authenticated
  using ((select public.can_read_all()) or sales_id = (select auth.uid()));
create policy contacts_insert on public.contacts for insert to authenticated
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy contacts_update on public.contacts for update to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()))
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy contacts_delete on public.contacts for delete to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()));

create policy "contactNotes_select" on public."contactNotes" for select to authenticated
  using ((select public.can_read_all()) or sales_id = (select auth.uid()));
create policy "contactNotes_insert" on public."contactNotes" for insert to authenticated
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy "contactNotes_update" on public."contactNotes" for update to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()))
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy "contactNotes_delete" on public."contactNotes" for delete to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()));

create policy opportunities_select on public.opportunities for select to authenticated
  using ((select public.can_read_all()) or sales_id = (select auth.uid()));
create policy opportunities_insert on public.opportunities for insert to authenticated
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy opportunities_update on public.opportunities for update to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()))
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy opportunities_delete on public.opportunities for delete to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()));

create policy deals_select on public.deals for select to authenticated
  using ((select public.can_read_all()) or sales_id = (select auth.uid()));
create policy deals_insert on public.deals for insert to authenticated
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy deals_update on public.deals for update to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()))
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy deals_delete on public.deals for delete to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()));

create policy "dealNotes_select" on public."dealNotes" for select to authenticated
  using ((select public.can_read_all()) or sales_id = (select auth.uid()));
create policy "dealNotes_insert" on public."dealNotes" for insert to authenticated
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy "dealNotes_update" on public."dealNotes" for update to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()))
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy "dealNotes_delete" on public."dealNotes" for delete to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()));

create policy activities_select on public.activities for select to authenticated
  using ((select public.can_read_all()) or sales_id = (select auth.uid()));
create policy activities_insert on public.activities for insert to authenticated
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy activities_update on public.activities for update to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()))
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy activities_delete on public.activities for delete to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()));

create policy tasks_select on public.tasks for select to authenticated
  using ((select public.can_read_all()) or sales_id = (select auth.uid()));
create policy tasks_insert on public.tasks for insert to authenticated
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy tasks_update on public.tasks for update to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()))
  with check ((select public.is_admin()) or sales_id = (select auth.uid()));
create policy tasks_delete on public.tasks for delete to authenticated
  using ((select public.is_admin()) or sales_id = (select auth.uid()));
