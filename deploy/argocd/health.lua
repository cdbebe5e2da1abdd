-- Argo CD health check for smcoperator.io/ReplicationJob (argocd-cm:
-- resource.customizations.health.smcoperator.io_ReplicationJob). Maps the conditions (and the
-- SMC job mirrored in status.job) to Argo CD's health:
--   Degraded     Created, Suspended, CutOver or Synced False with a failure (the job could not
--                be created, suspended, cut over or modified)
--   Progressing  being created (Created=Unknown), no verdict yet for the current generation, or
--                Started=Unknown (starting, retrying, throttled)
--   Healthy      Started=True, and SMC's job is not InError
--   Suspended    Started=False/NotRequested or /Suspended: spec.start false, or spec.suspend
--   Degraded     Started=False for any other reason, or SMC reports the started job InError
-- The message is the condition's, with SMC's error code and RequestId when there are any.
local hs = {}

local function describe(condition)
  local message = condition.message or ""
  local details = {}
  if condition.errorCode ~= nil and condition.errorCode ~= "" then
    table.insert(details, "code " .. condition.errorCode)
  end
  if condition.requestId ~= nil and condition.requestId ~= "" then
    table.insert(details, "RequestId " .. condition.requestId)
  end
  local text = (condition.reason or "") .. ": " .. message
  if #details > 0 then
    text = text .. " [" .. table.concat(details, ", ") .. "]"
  end
  return text
end

local status = obj.status
local started = nil
local created = nil
-- A lifecycle action that failed for good (waits such as NotModifiableInStatus are not failures).
local failed = nil
local failures = { NameDuplicate = true, QuotaExceeded = true, IdempotentParameterMismatch = true,
  InvalidParameter = true, InvalidStatus = true, NotIncremental = true, AccessDenied = true,
  CredentialsNotFound = true, RetriesExhausted = true, Failed = true, JobNotFound = true,
  SourceServerStateInvalid = true }
if status ~= nil and status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Started" then
      started = condition
    elseif condition.type == "Created" then
      created = condition
    end
    if condition.type ~= "Started" and condition.status == "False" and failures[condition.reason] then
      failed = failed or condition
    end
  end
end

if failed ~= nil then
  hs.status = "Degraded"
  hs.message = describe(failed)
  return hs
end
if created ~= nil and created.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = describe(created)
  return hs
end

local generation = obj.metadata and obj.metadata.generation or nil
if started == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report on this ReplicationJob"
  return hs
end
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

if started.status == "True" then
  local job = status.job
  if job ~= nil and job.status == "InError" then
    hs.status = "Degraded"
    local info = job.statusInfo or job.errorCode or ""
    hs.message = "Started, but SMC reports the job InError: " .. info
    return hs
  end
  hs.status = "Healthy"
  hs.message = describe(started)
  if job ~= nil and job.status ~= nil then
    hs.message = hs.message .. " (job " .. job.status .. ")"
  end
  return hs
end

if started.status == "False" and (started.reason == "NotRequested" or started.reason == "Suspended") then
  hs.status = "Suspended"
  hs.message = describe(started)
  return hs
end

if started.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(started)
  return hs
end

hs.status = "Progressing"
hs.message = describe(started)
return hs
