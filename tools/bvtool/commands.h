// The bvtool commands; each returns the process exit status.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/compact.h"
#include "tools/bvtool/client.h"
#include "tools/bvtool/common.h"
#include "tools/bvtool/keep_options.h"

namespace bv::tool {

int CmdInit(const Common& c, const std::string& encryption, const std::string& id_algo, uint32_t avg, uint64_t segment_mib);
// command: -- COMMAND ARGS…, whose standard output is the stream, committed only if it exits 0.
int CmdPut(const Common& c, const std::string& source, const std::string& file, const std::vector<std::string>& streams,
           const std::string& label, const std::string& time, const std::vector<std::string>& command);
int CmdLs(const Common& c, const std::string& source, const std::string& since, const std::string& until);
int CmdGet(const Common& c, const std::string& ref, const std::string& out_path, const std::string& range,
           const std::string& stream_name, const std::vector<std::string>& into);
int CmdVerify(const Common& c, const std::string& ref);
int CmdFsck(const Common& c, bool repair, bool rebuild);
int CmdInspect(const Common& c, const std::string& segment);
int CmdToken(bool json, const std::string& role);
int CmdDelete(const Common& c, const std::string& ref, const std::string& reason);
// sources: empty for every source. compact: then compact the volume, as `compact` does by default
// (restic's forget --prune); refused with dry_run.
int CmdPrune(const Common& c, const std::vector<std::string>& sources, const KeepOptions& keep, bool dry_run,
             bool compact);
// threshold_pct: rewrite sealed segments less than this live; max_rate_mb: MB/s copied, 0 for no limit.
int CmdCompact(const Common& c, bool dry_run, uint32_t threshold_pct, double max_rate_mb);
int CmdDf(const Common& c);

// Against a running bvd.
struct PushArgs {
  std::string source, file;
  std::vector<std::string> streams;  // NAME FILE pairs
  std::vector<std::string> command;  // -- COMMAND ARGS…: its standard output is the stream
  std::string label, time;
  uint64_t sync_every = 0;  // bytes between acknowledged syncs; 0: the defaults
};
int RemotePush(const Common& c, const Remote& remote, const PushArgs& a);
// into: -- COMMAND ARGS… to run with the stream as its standard input (get --into); empty: out_path.
int RemoteGet(const Common& c, const Remote& remote, const std::string& ref, const std::string& out_path,
              const std::string& range, const std::string& stream, const std::vector<std::string>& into);
// --blocks: the server sends stored blocks; bvtool checks and decodes them with the appliance key.
int RemoteGetBlocks(const Common& c, const Remote& remote, const std::string& ref, const std::string& out_path,
                    const std::string& range, const std::string& stream, bool verify_only);
int RemoteLs(const Common& c, const Remote& remote, const std::string& source, const std::string& since,
             const std::string& until);
int RemoteVerify(const Common& c, const Remote& remote, const std::string& ref);
int RemoteDelete(const Common& c, const Remote& remote, const std::string& ref, const std::string& reason);
// No keep options: each source's policy in bvd's configuration.
int RemotePrune(const Common& c, const Remote& remote, const std::vector<std::string>& sources,
                const KeepOptions& keep, bool dry_run, bool compact);
int RemoteCompact(const Common& c, const Remote& remote, bool dry_run, uint32_t threshold_pct, double max_rate_mb);

// Shared by compact and prune --compact: the options (per-segment progress to standard error
// unless --json), and the outcome printed unless --json and returned as JSON.
engine::CompactOptions CompactOptionsOf(const Common& c, bool dry_run, uint32_t threshold_pct, double max_rate_mb);
nlohmann::json CompactOutcome(const Common& c, const engine::CompactOptions& opts, const engine::CompactReport& r);
nlohmann::json RemoteCompactOutcome(const Common& c, const Remote& remote, bool dry_run, uint32_t threshold_pct,
                                    double max_rate_mb);
int RemoteDf(const Common& c, const Remote& remote);
// bvd's jobs (cmd_jobs.cc).
int RemoteJobs(const Common& c, const Remote& remote);
int RemoteJobHistory(const Common& c, const Remote& remote, const std::string& name, uint32_t limit);
// wait: until the run ends; exits 1 unless it ended ok. snapshot: a restore job's.
int RemoteRunJob(const Common& c, const Remote& remote, const std::string& name, const std::string& snapshot,
                 bool wait);
int RemoteCancelJob(const Common& c, const Remote& remote, const std::string& name);

// Shared by compact and df.
nlohmann::json SegmentsJson(const std::vector<engine::SegmentUsage>& segments);
std::string Percent(uint64_t part, uint64_t whole);  // "12.5%"
// Sends `line`, collects SEGMENT, SOURCE and NOTE lines until the OK, which it returns.
server::Reply Exchange(const Remote& remote, const std::string& line, std::vector<server::Reply>* lines);

}  // namespace bv::tool
