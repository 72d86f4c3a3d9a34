// The ingest pipeline on its own: what one put appends, what it takes from the index or from
// itself, where a sync point leaves the open stream, and how a failure sticks.
#include "engine/ingest.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::RandomBytes;
using test::TestVolume;

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(tv_.Init());
    ASSERT_OK_AND_ASSIGN(v_, tv_.Open());
  }
  // A pipeline for snapshot id 1 on the volume's present writer (or on `generation`).
  std::unique_ptr<Ingest> NewIngest(const PutOptions& opts = {}, std::optional<uint64_t> generation = std::nullopt) {
    format::SnapshotRecord rec;
    rec.id = 1;
    return std::make_unique<Ingest>(v_.get(), generation.value_or(v_->lane()->generation()), opts, rec);
  }
  static format::StreamInfo Named(const std::string& name) {
    format::StreamInfo at;
    at.name = name;
    return at;
  }

  TestVolume tv_;
  std::unique_ptr<Volume> v_;
};

TEST_F(IngestTest, AChunkSeenEarlierInThePutIsNotAppendedAgain) {
  const std::string data = RandomBytes(3 << 20, 1);
  auto in = NewIngest();
  for (const char* name : {"a", "b"}) {
    ASSERT_OK(in->StartStream(Named(name)));
    ASSERT_OK(in->Write(data));
    ASSERT_OK(in->EndStream());
  }
  const format::SnapshotRecord& rec = in->record();
  ASSERT_EQ(rec.streams.size(), 2u);
  EXPECT_EQ(rec.streams[0].hash, rec.streams[1].hash);
  EXPECT_EQ(rec.streams[0].chunk_count, rec.streams[1].chunk_count);
  EXPECT_EQ(rec.stored_bytes, 2 * rec.new_bytes);  // the second stream added nothing new
  EXPECT_GE(rec.new_bytes, data.size());           // random bytes do not compress
}

TEST_F(IngestTest, ASyncCutsTheOpenStreamWhereItStands) {
  const std::string data = RandomBytes(100000, 2);
  auto in = NewIngest();
  ASSERT_OK(in->StartStream(Named("s")));
  ASSERT_OK(in->Write(data));
  EXPECT_EQ(in->offset(), data.size());
  EXPECT_EQ(in->open_stream().length, 0u);  // buffered, not yet in a recipe piece
  int called = 0;
  ASSERT_OK(in->Sync([&](IndexBatch* b) {
    called++;
    EXPECT_GT(b->count(), 0u);  // the entries of what was appended go in the same batch
  }));
  EXPECT_EQ(called, 1);
  const format::StreamInfo at = in->open_stream();
  EXPECT_EQ(at.name, "s");
  EXPECT_EQ(at.length, data.size());
  EXPECT_EQ(at.recipe_pieces, 1u);
  EXPECT_GT(at.chunk_count, 0u);
  // The stream goes on after the cut: its next bytes start a new chunk.
  ASSERT_OK(in->Write(data));
  ASSERT_OK(in->EndStream());
  EXPECT_EQ(in->record().streams[0].length, 2 * data.size());
  EXPECT_EQ(in->record().streams[0].recipe_pieces, 2u);
}

TEST_F(IngestTest, AQuotaFailureSticks) {
  PutOptions o;
  o.new_bytes_max = 64 << 10;
  auto in = NewIngest(o);
  ASSERT_OK(in->StartStream(Named("")));
  ASSERT_OK(in->Write(RandomBytes(1 << 20, 3)));
  const Status end = in->EndStream();
  EXPECT_EQ(end.code(), Status::Code::kQuota) << end.ToString();
  EXPECT_EQ(in->Write("more").code(), Status::Code::kQuota);
  EXPECT_EQ(in->status().code(), Status::Code::kQuota);
  EXPECT_LE(in->record().new_bytes, *o.new_bytes_max);
}

TEST_F(IngestTest, AppendsFailOnceTheWriterOfTheirGenerationIsGone) {
  auto in = NewIngest({}, v_->lane()->generation() + 1);  // as if its writer had been dropped
  ASSERT_OK(in->StartStream(Named("")));
  ASSERT_OK(in->Write(RandomBytes(10000, 4)));
  const Status end = in->EndStream();
  ASSERT_FALSE(end.ok());
  EXPECT_NE(end.message().find("failed under another put"), std::string::npos) << end.ToString();
  EXPECT_FALSE(in->StartStream(Named("next")).ok());
}

TEST_F(IngestTest, AStoppedPipelineTakesNothingMore) {
  auto in = NewIngest();
  ASSERT_OK(in->StartStream(Named("")));
  ASSERT_OK(in->Write(RandomBytes(5 << 20, 5)));  // a batch in flight
  in->Stop(Status::InvalidArgument("stopped"));
  EXPECT_EQ(in->Write("x").message(), "stopped");
  EXPECT_EQ(in->EndStream().message(), "stopped");
}

}  // namespace
}  // namespace bv::engine
