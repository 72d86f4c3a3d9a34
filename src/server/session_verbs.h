// The handlers of a session's verbs, after AUTH. Each answers one request line; false: the
// session ends and the connection closes.
#pragma once

#include "server/request.h"
#include "server/session_context.h"

namespace bv::server {

// push_verbs.cc: PUT (docs/protocol.md §5); BEGIN and RESUME, then the session's frames (§6).
bool HandlePut(SessionContext* ctx, const Request& r);
bool HandleFramed(SessionContext* ctx, const Request& r);

// restore_verbs.cc: GET, raw or format=blocks (§7); VERIFY (§8).
bool HandleGet(SessionContext* ctx, const Request& r);
bool HandleVerify(SessionContext* ctx, const Request& r);

// catalog_verbs.cc: LIST, STAT, DELETE (§8).
bool HandleList(SessionContext* ctx, const Request& r);
bool HandleStat(SessionContext* ctx, const Request& r);
bool HandleDelete(SessionContext* ctx, const Request& r);

// prune_verb.cc: PRUNE (§8).
bool HandlePrune(SessionContext* ctx, const Request& r);

// compact_verbs.cc: COMPACT, DF (§8).
bool HandleCompact(SessionContext* ctx, const Request& r);
bool HandleDf(SessionContext* ctx, const Request& r);

// job_verbs.cc: JOBS, HISTORY, RUN, CANCEL (§8, docs/jobs.md).
bool HandleJobs(SessionContext* ctx, const Request& r);
bool HandleJobHistory(SessionContext* ctx, const Request& r);
bool HandleRunJob(SessionContext* ctx, const Request& r);
bool HandleCancelJob(SessionContext* ctx, const Request& r);

}  // namespace bv::server
