// The block pipeline on its own, fed by a source of blocks held in memory: the order of the
// output over many batches and a small window, every check of a block against what its source
// expects, the failures that end a run (a damaged block, a sink that fails, a stream hash that
// does not match) and what their errors name.
#include "engine/block_pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

VolumeKeys Keys(bool encrypted) {
  Key master;
  master.fill(0x42);
  return DeriveKeys(master, encrypted);
}

// Chunk `i`: a few KiB, some compressible and some not, so both decode paths run.
std::string ChunkBytes(size_t i) {
  std::string s = test::RandomBytes(1000 + (i * 7919) % 9000, i + 1);
  if (i % 3 == 0) s.assign(s.size(), static_cast<char>('a' + i % 26));
  return s;
}

format::Id ChunkId(size_t i) {
  format::Id id;
  id.fill(0x5a);  // a data block's id is never zero
  id[0] = static_cast<uint8_t>(i);
  id[1] = static_cast<uint8_t>(i >> 8);
  return id;
}

// Blocks in memory, copied into batches as a socket source reads them: each block in stream
// order, a batch submitted when the next block does not fit.
class MemorySource final : public BlockSource {
 public:
  struct Block {
    std::string bytes;  // header and payload
    BlockItem item;
  };
  std::vector<Block> blocks;
  std::atomic<size_t> gathered{0};
  mutable std::mutex mu;
  mutable std::vector<uint64_t> damaged;

  Status Gather(BlockPipeline* p) override {
    std::shared_ptr<BlockBatch> batch;
    for (const Block& b : blocks) {
      if (batch && (batch->used + b.bytes.size() > batch->capacity() || !p->TakesOutput(*batch, b.item))) {
        BV_RETURN_IF_ERROR(p->Submit(std::move(batch)));
        batch = nullptr;
      }
      if (!batch) batch = p->NewBatch(b.bytes.size());
      BlockItem item = b.item;
      item.at = batch->used;
      std::memcpy(batch->data() + item.at, b.bytes.data(), b.bytes.size());
      batch->used += b.bytes.size();
      p->Add(batch.get(), item);
      gathered++;
    }
    return batch ? p->Submit(std::move(batch)) : Status::Ok();
  }
  std::string Place(const BlockItem& item) const override {
    return "memory block " + std::to_string(item.number) + " at " + std::to_string(item.stream_offset);
  }
  std::string SizeAuthority() const override { return "the test"; }
  void Damaged(const BlockItem& item) const override {
    std::lock_guard lock(mu);
    damaged.push_back(item.number);
  }
};

// Keeps every piece with its hold, as a zero-copy socket keeps a batch until the kernel is done.
class HoldingSink final : public OutputSink {
 public:
  Status Write(std::string_view) override { return Status::IOError("unused"); }
  Status WriteHeld(std::span<const std::string_view> pieces, std::shared_ptr<const void> hold) override {
    if (fail_after >= 0 && writes >= fail_after) return Status::IOError("test sink: disk full");
    writes++;
    for (std::string_view p : pieces) views.push_back(p);
    holds.push_back(std::move(hold));
    return Status::Ok();
  }
  std::string Bytes() const {
    std::string s;
    for (std::string_view v : views) s += v;
    return s;
  }
  int fail_after = -1;
  int writes = 0;
  std::vector<std::string_view> views;
  std::vector<std::shared_ptr<const void>> holds;
};

class BlockPipelineTest : public ::testing::Test {
 protected:
  // `n` chunks of a stream; `stream` gets their bytes and `hash` their stream hash.
  void MakeBlocks(size_t n) {
    StreamHash h(codec->encrypted() ? keys.hash_key : plain_keys.hash_key);
    for (size_t i = 0; i < n; i++) {
      const std::string chunk = ChunkBytes(i);
      source.blocks.push_back(Block(i, chunk, stream.size()));
      stream += chunk;
      h.Update(chunk);
    }
    hash = h.Finish();
  }
  MemorySource::Block Block(size_t i, const std::string& chunk, uint64_t stream_offset) const {
    MemorySource::Block b;
    codec->EncodeData(ChunkId(i), chunk, &b.bytes);
    b.item.stored_len = static_cast<uint32_t>(b.bytes.size() - format::kBlockHeaderSize);
    b.item.id = ChunkId(i);
    b.item.length = static_cast<uint32_t>(chunk.size());
    b.item.stream_offset = stream_offset;
    b.item.take = b.item.length;
    b.item.number = i;
    return b;
  }
  PipelineOptions Options() {
    PipelineOptions o;
    o.codec = codec;
    o.pool = &pool;
    o.batches_in_flight = 2;
    o.batch_output = 32 << 10;  // a few chunks per batch: many batches
    o.stored_buffer = 64 << 10;
    return o;
  }
  std::optional<StreamCheck> Check() {
    const Key& key = codec->encrypted() ? keys.hash_key : plain_keys.hash_key;
    return StreamCheck{key, hash, "snapshot 00000000000000ab stream 2 at byte " + std::to_string(stream.size())};
  }
  Status Run(const std::optional<StreamCheck>& check) {
    BlockPipeline p(Options());
    return p.Run(&source, &sink, check, [this](uint64_t n) { progress = n; });
  }

  const VolumeKeys keys = Keys(true), plain_keys = Keys(false);
  const BlockCodec encrypted_codec{keys, 1}, plain_codec{plain_keys, 1};
  const BlockCodec* codec = &encrypted_codec;
  ThreadPool pool{4};
  MemorySource source;
  HoldingSink sink;
  std::string stream;
  std::array<uint8_t, 16> hash{};
  uint64_t progress = 0;
};

TEST_F(BlockPipelineTest, BlocksAreDecodedAndWrittenInOrderAcrossManyBatches) {
  MakeBlocks(400);
  ASSERT_OK(Run(Check()));
  EXPECT_GT(sink.writes, 50);  // batches, each written once
  EXPECT_EQ(sink.Bytes(), stream);  // held batches keep the bytes valid after the run
  EXPECT_EQ(progress, stream.size());
  EXPECT_TRUE(source.damaged.empty());
}

TEST_F(BlockPipelineTest, OnlyTheOutputPartOfEachChunkIsWritten) {
  MakeBlocks(20);
  auto& first = source.blocks.front().item;
  first.skip = 100;
  first.take -= 100;
  auto& last = source.blocks.back().item;
  last.take = 5;  // the range ends inside the last chunk, whose length the source may not know
  last.length_exact = false;
  ASSERT_OK(Run(std::nullopt));
  EXPECT_EQ(sink.Bytes(), stream.substr(100, stream.size() - 100 - (last.length - 5)));
}

TEST_F(BlockPipelineTest, DamagedBlockFailsTheRunAndNamesItsPlace) {
  MakeBlocks(200);
  MemorySource::Block& bad = source.blocks[137];
  bad.bytes[format::kBlockHeaderSize + 10] ^= 0x08;
  Status s = Run(Check());
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(s.message().rfind("memory block 137 at " + std::to_string(bad.item.stream_offset) + ": ", 0), 0u)
      << s.message();
  EXPECT_NE(s.message().find("body_xxh3"), std::string::npos) << s.message();
  EXPECT_EQ(source.damaged, std::vector<uint64_t>{137});
  // What was written is the stream's beginning, and stops before the damaged block.
  const std::string out = sink.Bytes();
  EXPECT_EQ(out, stream.substr(0, out.size()));
  EXPECT_LE(out.size(), bad.item.stream_offset);
}

TEST_F(BlockPipelineTest, BlockHoldingAnotherChunkFails) {
  MakeBlocks(30);
  source.blocks[7].item.id = ChunkId(8);
  Status s = Run(Check());
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(s.message().rfind("memory block 7 at ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("holds a different chunk than the recipe names"), std::string::npos) << s.message();
}

TEST_F(BlockPipelineTest, ChunkOfAnotherLengthFailsWhereTheSourceKnowsNoId) {
  MakeBlocks(30);
  for (auto& b : source.blocks) b.item.id.reset();  // as from bvd's frames
  source.blocks[9].item.length += 1;
  Status s = Run(std::nullopt);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("memory block 9 at "), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("where the stream has " + std::to_string(source.blocks[9].item.length)), std::string::npos)
      << s.message();
}

TEST_F(BlockPipelineTest, HeaderThatDisagreesWithTheSourcesSizeFails) {
  MakeBlocks(30);
  source.blocks[3].item.stored_len -= 1;
  source.blocks[3].bytes.pop_back();
  Status s = Run(std::nullopt);
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("memory block 3 at "), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("the test says"), std::string::npos) << s.message();
}

TEST_F(BlockPipelineTest, SinkThatFailsStopsTheSource) {
  MakeBlocks(2000);
  sink.fail_after = 3;
  Status s = Run(Check());
  EXPECT_EQ(s.message(), "test sink: disk full") << s.ToString();
  // The window (2 batches of a few chunks) bounds how far the source ran ahead.
  EXPECT_LT(source.gathered.load(), 200u);
}

TEST_F(BlockPipelineTest, StreamHashMismatchNamesTheStream) {
  MakeBlocks(50);
  hash[0] ^= 1;
  Status s = Run(Check());
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_EQ(s.message(), "snapshot 00000000000000ab stream 2 at byte " + std::to_string(stream.size()) +
                             ": the restored stream does not match its recorded hash");
  EXPECT_EQ(sink.Bytes(), stream);  // every block checked out: only the hash can tell
}

TEST_F(BlockPipelineTest, ChunksStoredPlainAreWrittenFromTheStoredBuffer) {
  codec = &plain_codec;
  MakeBlocks(100);
  ASSERT_OK(Run(Check()));
  EXPECT_EQ(sink.Bytes(), stream);
}

TEST_F(BlockPipelineTest, BlockLargerThanABufferGetsABatchOfItsOwn) {
  MakeBlocks(10);
  const std::string big = test::RandomBytes(200 << 10, 99);  // does not compress: over the 64 KiB buffer
  const uint64_t at = source.blocks[5].item.stream_offset;
  source.blocks.insert(source.blocks.begin() + 5, Block(500, big, at));
  ASSERT_OK(Run(std::nullopt));
  EXPECT_EQ(sink.Bytes(), stream.substr(0, at) + big + stream.substr(at));
}

}  // namespace
}  // namespace bv::engine
