// Every file a volume touches is reached through its io::Env: the segments (create, open, read,
// write, sync, size, truncate, listing, directory sync), the key file, the lock, the VOLUME file
// and the markers. For each, a fault injected there makes the operation fail with an error that
// names the file, and nothing stored before is lost.
#include <gtest/gtest.h>

#include <fstream>

#include "io/fault_injection_env.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

using Op = io::FaultInjectionEnv::Op;

void ExpectOk(const Status& s) { EXPECT_TRUE(s.ok()) << s.ToString(); }

class EnvFaults : public ::testing::Test {
 protected:
  void SetUp() override { fault_ = std::make_shared<io::FaultInjectionEnv>(io::Env::Create(test::TestBackend())); }

  Status Init() {
    InitOptions o;
    o.env = fault_;
    return tv_.Init(o);
  }
  Result<std::unique_ptr<Volume>> Open() {
    OpenOptions o;
    o.env = fault_;
    return tv_.Open(o);
  }
  // A volume holding one snapshot, closed cleanly; returns its id.
  uint64_t VolumeWithOneSnapshot() {
    ExpectOk(Init());
    auto v = Open();
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    auto rec = test::PutString(v->get(), "src", data_);
    EXPECT_TRUE(rec.ok()) << rec.status().ToString();
    ExpectOk((*v)->Close());
    return rec.ok() ? rec->id : 0;
  }
  // The snapshot still restores whole once the fault is gone.
  void ExpectIntact(uint64_t id) {
    fault_->ClearFaults();
    ASSERT_OK_AND_ASSIGN(auto v, Open());
    ASSERT_OK_AND_ASSIGN(std::string back, test::GetString(v.get(), id));
    EXPECT_TRUE(back == data_);
    ASSERT_OK(v->Close());
  }

  std::shared_ptr<io::FaultInjectionEnv> fault_;
  test::TestVolume tv_;
  const std::string data_ = test::RandomBytes(3 << 20, 11);
};

// The error is the injected one and names the file it was about.
void ExpectInjected(const Status& s, const std::string& file) {
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("injected fault"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(file), std::string::npos) << s.ToString();
}

TEST_F(EnvFaults, KeyFileCreate) {
  fault_->FailOn(Op::kCreateExclusive, "master.key");
  ExpectInjected(Init(), "master.key");
  EXPECT_FALSE(io::PathExists(tv_.dir() + "/VOLUME"));  // no volume without its key
}

TEST_F(EnvFaults, KeyFileRead) {
  const uint64_t id = VolumeWithOneSnapshot();
  fault_->FailOn(Op::kReadSmall, "master.key");
  ExpectInjected(Open().status(), "master.key");
  ExpectIntact(id);
}

TEST_F(EnvFaults, VolumeFileWrite) {
  fault_->FailOn(Op::kWriteSmall, "VOLUME");
  ExpectInjected(Init(), "VOLUME");
}

TEST_F(EnvFaults, VolumeFileRead) {
  const uint64_t id = VolumeWithOneSnapshot();
  fault_->FailOn(Op::kReadSmall, "VOLUME");
  ExpectInjected(Open().status(), "VOLUME");
  ExpectIntact(id);
}

TEST_F(EnvFaults, LockFile) {
  const uint64_t id = VolumeWithOneSnapshot();
  fault_->FailOn(Op::kLock, "LOCK");
  ExpectInjected(Open().status(), "LOCK");
  ExpectIntact(id);
}

TEST_F(EnvFaults, CleanMarkerRemoveAndWrite) {
  const uint64_t id = VolumeWithOneSnapshot();
  fault_->FailOn(Op::kRemove, "CLEAN");
  ExpectInjected(Open().status(), "CLEAN");
  fault_->ClearFaults();
  {
    ASSERT_OK_AND_ASSIGN(auto v, Open());
    fault_->FailOn(Op::kWriteSmall, "CLEAN");
    ExpectInjected(v->Close(), "CLEAN");
  }
  ExpectIntact(id);
}

TEST_F(EnvFaults, SegmentListing) {
  const uint64_t id = VolumeWithOneSnapshot();
  fault_->FailOn(Op::kListDir, "segments");
  ExpectInjected(Open().status(), "segments");
  ExpectIntact(id);
}

TEST_F(EnvFaults, SegmentCreateAndDirectorySync) {
  ASSERT_OK(Init());
  for (Op op : {Op::kOpen, Op::kSyncDir}) {
    SCOPED_TRACE(io::FaultInjectionEnv::OpName(op));
    fault_->ClearFaults();
    ASSERT_OK_AND_ASSIGN(auto v, Open());
    fault_->FailOn(op, op == Op::kOpen ? "seg-" : "segments");
    ExpectInjected(test::PutString(v.get(), "src", data_).status(), op == Op::kOpen ? "seg-" : "segments");
  }
  fault_->ClearFaults();
  ASSERT_OK_AND_ASSIGN(auto v, Open());
  ASSERT_OK_AND_ASSIGN(auto rec, test::PutString(v.get(), "src", data_));
  ASSERT_OK(v->Close());
  ExpectIntact(rec.id);
}

TEST_F(EnvFaults, SegmentWriteAndSync) {
  const uint64_t id = VolumeWithOneSnapshot();
  for (Op op : {Op::kWrite, Op::kSync}) {
    SCOPED_TRACE(io::FaultInjectionEnv::OpName(op));
    fault_->ClearFaults();
    ASSERT_OK_AND_ASSIGN(auto v, Open());
    fault_->FailOn(op, "seg-");
    // New bytes, so the put has blocks to write.
    ExpectInjected(test::PutString(v.get(), "other", test::RandomBytes(2 << 20, 99)).status(), "seg-");
  }
  ExpectIntact(id);
}

TEST_F(EnvFaults, SegmentOpenAndReadOnRestore) {
  const uint64_t id = VolumeWithOneSnapshot();
  for (Op op : {Op::kOpen, Op::kRead}) {
    SCOPED_TRACE(io::FaultInjectionEnv::OpName(op));
    fault_->ClearFaults();
    ASSERT_OK_AND_ASSIGN(auto v, Open());
    ASSERT_OK_AND_ASSIGN(auto segments, v->segment_files()->List());
    for (uint64_t n : segments) v->segment_files()->Forget(n);  // so the restore opens them
    fault_->FailOn(op, "seg-");
    ExpectInjected(test::GetString(v.get(), id).status(), "seg-");
  }
  ExpectIntact(id);
}

TEST_F(EnvFaults, SegmentSizeOnOpen) {
  const uint64_t id = VolumeWithOneSnapshot();
  fault_->FailOn(Op::kSize, "seg-");  // a clean open compares the last segment's size with the index
  ExpectInjected(Open().status(), "seg-");
  ExpectIntact(id);
}

TEST_F(EnvFaults, SegmentTruncateOfATornTail) {
  const uint64_t id = VolumeWithOneSnapshot();
  // A dead writer's torn tail: bytes past the last block, and no clean marker.
  ASSERT_OK_AND_ASSIGN(auto segments, SegmentFiles(io::SystemEnv(), tv_.dir() + "/segments").List());
  ASSERT_FALSE(segments.empty());
  {
    std::ofstream f(SegmentFiles(io::SystemEnv(), tv_.dir() + "/segments").Path(segments.back()),
                    std::ios::binary | std::ios::app);
    f << std::string(5000, '\x5a');
  }
  ASSERT_OK(io::RemoveFile(tv_.dir() + "/CLEAN"));
  fault_->FailOn(Op::kTruncate, "seg-");
  ExpectInjected(Open().status(), "seg-");
  ExpectIntact(id);  // the next open cuts the tail
}

}  // namespace
}  // namespace bv::engine
