// A tenant's jobs at run time (docs/jobs.md): when each runs next, at most max_running at once
// (the others wait their turn, in the order they fell due), retries with backoff, a record of
// every attempt in the history, and a run started or cancelled on request. A slot missed while
// bvd was down runs once at start. One thread decides; each run has a thread of its own.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <date/tz.h>

#include "jobs/backup_run.h"
#include "jobs/job_history.h"
#include "jobs/job_spec.h"
#include "jobs/maintenance_run.h"
#include "jobs/restore_run.h"

namespace bv::jobs {

// What the server lends a tenant's jobs.
struct JobHost {
  engine::Volume* volume = nullptr;
  // Fills in the workers, budget, quota and disk reserve of a run's put; what it returns is kept
  // for the run's length (a quota reservation).
  std::function<Result<std::shared_ptr<void>>(engine::PutOptions*)> prepare_put;
  // Applies retention policies: after a good run of a backup job with prune = true (its source),
  // and in a prune job.
  PruneSources prune;
  // Told of every attempt that ended other than ok (logs), and whether it was the run's last
  // (the notify hook).
  std::function<void(const JobSpec&, const format::RunRecord&, bool last)> on_failure;
  // Told when the history cannot be written or expired (the run goes on).
  std::function<void(const Status&)> on_history_error;
};

struct JobState {
  JobSpec spec;
  std::optional<int64_t> next_us;  // the next scheduled start; none without a schedule
  bool running = false;
  bool waiting = false;  // due, waiting for a free slot
  std::optional<format::RunRecord> last, last_good;
};

class Scheduler {
 public:
  Scheduler(std::string tenant, JobHost host, std::unique_ptr<JobHistory> history);
  ~Scheduler();  // Stop()

  // Replaces the jobs and how many may run at once (at start and on SIGHUP). A run under way
  // goes on to its end, and keeps the spec it started with; a job that is gone runs no more.
  // The first call also runs, once, each job whose schedule had a time while bvd was down. Runs
  // that ended more than history_days ago leave the history now and daily.
  Status Configure(const std::vector<JobSpec>& jobs, uint32_t max_running, uint32_t history_days);
  void Stop();  // cancels every run under way and waits for them

  // Starts the job now, outside its schedule: NotFound, or Busy when it runs or waits already.
  // `snapshot`: for a restore job, the snapshot to restore ("": its source's newest). The future
  // gives the record of the run's last attempt when it ends (cancelled when it never started).
  Result<std::shared_future<format::RunRecord>> RunNow(const std::string& name, const std::string& snapshot = "");
  // Cancels its run under way (retries too): NotFound, or NotFound when none runs.
  Status Cancel(const std::string& name);
  Result<std::vector<JobState>> List();
  Result<std::vector<format::RunRecord>> History(const std::string& name, size_t limit);

  // Tests: the delay before retry `attempt` (2 for the first retry) of `spec`.
  static uint64_t RetryDelay(const JobSpec& spec, uint32_t attempt, std::mt19937_64* rng);

 private:
  struct Job {
    JobSpec spec;
    const date::time_zone* zone = nullptr;
    std::optional<io::ChildSpec::Identity> identity;
    std::optional<int64_t> next_slot_us;  // the next slot of its schedule
    std::optional<int64_t> next_us;       // when it starts for that slot: the slot plus jitter
    int64_t due_slot_us = 0;              // the slot it waits to run for (0: a manual run)
    format::RunTrigger trigger = format::RunTrigger::kSchedule;
    bool running = false;
    bool waiting = false;
    bool removed = false;  // taken out of the configuration while it ran
    std::shared_ptr<RunControl> control;
    std::string snapshot;  // a manual restore's snapshot
    std::shared_ptr<std::promise<format::RunRecord>> waiter;  // a manual run's
  };
  // What one run is given when it starts.
  struct RunTicket {
    JobSpec spec;
    std::optional<io::ChildSpec::Identity> identity;
    std::shared_ptr<RunControl> control;
    format::RunTrigger trigger;
    int64_t slot_us;
    std::string snapshot;
    std::optional<JobSpec> backup_first;
    std::optional<io::ChildSpec::Identity> backup_identity;
    std::shared_ptr<std::promise<format::RunRecord>> waiter;
  };

  void Loop();
  // Due jobs in order, into free slots.
  void StartDue(std::unique_lock<std::mutex>& l, int64_t now_us);
  void RunJob(RunTicket t);
  // One attempt of the ticket's job.
  RunOutcome Attempt(const RunTicket& t);
  // A waiter told that its run never started.
  static void NeverRan(const std::string& job, const std::shared_ptr<std::promise<format::RunRecord>>& waiter,
                       const std::string& why);
  std::optional<int64_t> NextSlot(const Job& j, int64_t after_us) const;
  // Sets next_slot_us and next_us to the first slot after `after_us`.
  void Plan(Job* j, int64_t after_us);
  // A job's zone and user, looked up anew at each configuration.
  Status Resolve(const JobSpec& spec, Job* j);
  // At the first configuration: the latest slot of its schedule that passed since its last
  // scheduled run on record, if one did (bvd was down for it).
  Result<std::optional<int64_t>> MissedSlot(const Job& j, int64_t now_us);
  void ExpireHistory(int64_t now_us);

  const std::string tenant_;
  const JobHost host_;
  std::unique_ptr<JobHistory> history_;
  uint32_t max_running_ = 1;
  uint32_t history_days_ = 90;
  bool configured_ = false;
  int64_t expired_us_ = 0;  // when the history was last expired
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Job> jobs_;
  std::deque<std::string> queue_;  // due, in the order they fell due
  uint32_t running_ = 0;
  bool stopping_ = false;
  std::mt19937_64 rng_;
  std::thread loop_;
};

}  // namespace bv::jobs
