// Job run records (format/run_record_format.h): round trip, the committed seed as a golden
// vector, every truncation refused, bad fields named with their offset, limits applied.
#include "format/run_record_format.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/test_util.h"

namespace bv::format {
namespace {

RunRecord Sample() {
  RunRecord r;
  r.job = "orders-nightly";
  r.attempt = 2;
  r.trigger = RunTrigger::kRetry;
  r.result = 1;
  r.scheduled_us = 1796000000000000;
  r.start_us = 1796000030000000;
  r.end_us = 1796000090000000;
  r.exit_status = 3;
  r.bytes_in = 1000;
  r.bytes_stored = 200;
  r.error = "stream \"a\": sh exited with status 3; nothing was committed";
  r.stderr_tail = "pg_dump: connection refused\n\n";
  return r;
}

TEST(RunRecordFormatTest, RoundTripAndGoldenSeed) {
  const RunRecord r = Sample();
  const std::string bytes = EncodeRunRecord(r);
  ASSERT_OK_AND_ASSIGN(RunRecord back, DecodeRunRecord(bytes));
  EXPECT_EQ(back, r);
  std::ifstream seed(std::string(BV_SOURCE_DIR) + "/fuzz/corpus/run_record/failed", std::ios::binary);
  std::stringstream golden;
  golden << seed.rdbuf();
  EXPECT_EQ(golden.str(), bytes) << "the layout changed: bump kRunRecordVersion";
  RunRecord running = r;
  running.exit_status.reset();
  running.end_us = 0;
  running.result = 5;
  ASSERT_OK_AND_ASSIGN(back, DecodeRunRecord(EncodeRunRecord(running)));
  EXPECT_EQ(back, running);
}

TEST(RunRecordFormatTest, EveryTruncationAndBadFieldIsRefused) {
  const std::string bytes = EncodeRunRecord(Sample());
  for (size_t n = 0; n < bytes.size(); n++) EXPECT_FALSE(DecodeRunRecord(bytes.substr(0, n)).ok()) << n;
  EXPECT_FALSE(DecodeRunRecord(bytes + "x").ok());
  auto with = [&](size_t at, uint8_t v) {
    std::string b = bytes;
    b[at] = static_cast<char>(v);
    auto r = DecodeRunRecord(b);
    return r.ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_NE(with(0, 2).find("at byte 0: unknown version 2"), std::string::npos);
  const size_t attempt = 1 + 2 + 14;
  EXPECT_NE(with(attempt + 4, 9).find("unknown trigger 9"), std::string::npos);
  EXPECT_NE(with(attempt + 5, 6).find("unknown result 6"), std::string::npos);
  EXPECT_NE(with(attempt + 6 + 24, 2).find("exit status flag 2"), std::string::npos);
}

TEST(RunRecordFormatTest, ErrorAndStderrAreCutToTheirLimits) {
  RunRecord r = Sample();
  r.error = std::string(10000, 'e');
  r.stderr_tail = std::string(100000, 'x') + "the end";
  ASSERT_OK_AND_ASSIGN(RunRecord back, DecodeRunRecord(EncodeRunRecord(r)));
  EXPECT_EQ(back.error.size(), kRunErrorMax);
  EXPECT_EQ(back.stderr_tail.size(), kRunStderrMax);
  EXPECT_EQ(back.stderr_tail.substr(back.stderr_tail.size() - 7), "the end");
}

TEST(RunRecordFormatTest, KeysOrderAJobsRunsByStart) {
  EXPECT_LT(RunKey("a", 5, 1), RunKey("a", 6, 1));
  EXPECT_LT(RunKey("a", 5, 1), RunKey("a", 5, 2));
  EXPECT_LT(RunKey("a", 1ll << 40, 1), RunKey("a.b", 0, 1));
}

}  // namespace
}  // namespace bv::format
