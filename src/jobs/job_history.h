// Every run of a tenant's jobs, durably (docs/jobs.md): a record written when a run starts and
// again when it ends, each synced, in a small RocksDB of its own (DATA/jobs/<tenant>/history).
// A run still marked running when the history is opened was cut short by a crash of bvd, and is
// marked interrupted. Records older than the tenant's history_days go. Beside the runs, what a
// job keeps from one run to the next (a verify job's cursor).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "format/run_record_format.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
}

namespace bv::jobs {

inline constexpr size_t kHistoryListMax = 1000;  // records one listing returns at most

class JobHistory {
 public:
  // Creates the directory's database when there is none. *interrupted: runs it found marked
  // running, now marked interrupted (ended at `now_us`).
  static Result<std::unique_ptr<JobHistory>> Open(const std::string& dir, int64_t now_us,
                                                  std::vector<format::RunRecord>* interrupted);
  ~JobHistory();

  // Writes the record (under its job, start time and attempt), synced.
  Status Put(const format::RunRecord& r);
  // Runs of `job`, newest first, at most `limit`.
  Result<std::vector<format::RunRecord>> Recent(const std::string& job, size_t limit);
  // The newest run of `job` that ended `ok`, if any is kept.
  Result<std::optional<format::RunRecord>> LastGood(const std::string& job);
  // The newest run of `job` that its schedule started (not a manual one), if any is kept.
  Result<std::optional<format::RunRecord>> LastScheduled(const std::string& job);
  // Removes the records of runs that ended before `before_us`; how many went.
  Result<size_t> Expire(int64_t before_us);

  // What `job` keeps between runs (a verify job's cursor), synced; none before the first Put.
  Result<std::optional<std::string>> GetState(const std::string& job);
  Status PutState(const std::string& job, std::string_view value);

 private:
  JobHistory() = default;
  Status ForEach(const std::string& job, bool newest_first,
                 const std::function<Result<bool>(const format::RunRecord&)>& fn);
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // default (runs), state
  std::string dir_;
};

}  // namespace bv::jobs
