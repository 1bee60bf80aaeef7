-- Spec supabase-cleanup-prelaunch §3.3, verbatim from here to the "Additions" marker.

-- Add metadata table to track test user creation
CREATE TABLE IF NOT EXISTS public.test_user_metadata (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID REFERENCES auth.users(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'sales_director', 'account_manager')),
  created_by TEXT DEFAULT 'automated_script',
  created_at TIMESTAMPTZ DEFAULT NOW(),
  last_sync_at TIMESTAMPTZ,
  test_data_counts JSONB DEFAULT '{
    "contacts": 0,
    "organizations": 0,
    "opportunities": 0,
    "activities": 0,
    "tasks": 0,
    "notes": 0
  }'::jsonb
);

-- RLS policies
ALTER TABLE public.test_user_metadata ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Test metadata readable by authenticated users"
  ON public.test_user_metadata FOR SELECT
  USING (auth.role() = 'authenticated');

CREATE POLICY "Test metadata writable by service role"
  ON public.test_user_metadata FOR ALL
  USING (auth.role() = 'service_role');

-- Index for quick lookups
CREATE INDEX idx_test_user_metadata_user_id ON public.test_user_metadata(user_id);
CREATE INDEX idx_test_user_metadata_role ON public.test_user_metadata(role);

-- Additions (docs/design/crm-schema.md) ------------------------------------------------------

-- One metadata row per test user: create-test-users upserts with ON CONFLICT (user_id).
ALTER TABLE public.test_user_metadata
  ADD CONSTRAINT test_user_metadata_user_id_key UNIQUE (user_id);

-- Explicit grants (independent of default privileges): the API sees what the two policies allow.
-- authenticated only reads (the write policy is for service_role); anon gets nothing.
REVOKE ALL ON TABLE public.test_user_metadata FROM anon, authenticated;
GRANT SELECT ON TABLE public.test_user_metadata TO authenticated;
GRANT ALL ON TABLE public.test_user_metadata TO service_role;
