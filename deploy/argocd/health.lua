-- Argo CD health check for smcoperator.io/ReplicationJob (argocd-cm:
-- resource.customizations.health.smcoperator.io_ReplicationJob). Maps the Started condition
-- (and the SMC job it mirrors in status.job) to Argo CD's health:
--   Healthy      Started=True, and SMC's job is not InError
--   Progressing  no verdict yet for the current generation, or Started=Unknown (starting,
--                retrying, throttled)
--   Suspended    Started=False/NotRequested: spec.start is false
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
if status ~= nil and status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Started" then
      started = condition
    end
  end
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

if started.status == "False" and started.reason == "NotRequested" then
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
