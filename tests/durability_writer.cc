// Test helper: writes segments through TmService as fast as it can and prints "ack <id>" after
// each write returns, so a test can kill it (-9) at any moment and check that every acknowledged
// write survived. Usage:
//   durability_writer DB STORE single      one segment per transaction
//   durability_writer DB STORE bulk        writes 50,000 segments in one transaction, prints
//                                          "uncommitted 50000" and waits, never committing
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "common/clock.h"
#include "common/ids.h"
#include "storage/storage.h"
#include "tm/tm.h"

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  std::string db = argv[1], store = argv[2], mode = argv[3];
  auto database = verso::storage::OpenSqlite(db, {});
  if (!database.ok()) {
    std::cerr << database.status() << "\n";
    return 1;
  }
  verso::storage::TmRepository* repo = &(*database)->tm();
  verso::IdGenerator ids(verso::Clock::Real());
  verso::tm::TmService service(database->get(), &verso::Clock::Real(), &ids);
  if (!service.Load(false).ok()) return 1;
  if (mode == "bulk") {
    auto writer = repo->BeginWrite(store);
    if (!writer.ok()) return 1;
    for (int i = 0; i < 50000; ++i) {
      verso::tm::SegmentRecord r;
      r.source = "bulk source " + std::to_string(i);
      r.target = "bulk target " + std::to_string(i);
      if (!(*writer)->Put(&r).ok()) return 1;
    }
    std::printf("uncommitted 50000\n");
    std::fflush(stdout);
    pause();  // until killed
    return 0;
  }
  for (int i = 0;; ++i) {
    verso::tm::SegmentRecord r;
    r.source = "Segment number " + std::to_string(i);
    r.target = "Segmento número " + std::to_string(i);
    auto added = service.AddSegments(verso::tm::kAnyTenant, store, {r}, "writer");
    if (!added.ok()) {
      std::cerr << added.status() << "\n";
      return 1;
    }
    std::printf("ack %lld\n", static_cast<long long>((*added)[0].id));
    std::fflush(stdout);
  }
}
