#include "cluster/cluster.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "net/http_client.h"
#include "resilience/resilience.h"
#include "tm/placement.h"

namespace verso::cluster {
namespace {

constexpr std::string_view kSecretSetting = "tm_peer_secret";

// The live TM nodes and how stores are placed on them. Immutable: a membership change makes a
// new one.
struct View {
  std::vector<storage::NodeRecord> nodes;  // by id
  tm::Placement ring;                      // replicas = every node: a store's ring order
  int replicas;

  View(std::vector<storage::NodeRecord> n, const Options& o)
      : nodes(std::move(n)),
        ring(Ids(nodes), {.virtual_nodes = o.virtual_nodes,
                          .replicas = static_cast<int>(std::max<size_t>(1, nodes.size()))}),
        replicas(o.replicas) {}

  static std::vector<std::string> Ids(const std::vector<storage::NodeRecord>& nodes) {
    std::vector<std::string> ids;
    for (const auto& n : nodes) ids.push_back(n.id);
    return ids;
  }
  // Every node, the store's owners first (primary first), then the rest in ring order.
  std::vector<std::string> Order(std::string_view store) const { return ring.Owners(store); }
  bool Owns(std::string_view node, std::string_view store) const {
    std::vector<std::string> order = Order(store);
    const size_t owners = std::min<size_t>(order.size(), static_cast<size_t>(replicas));
    return std::find(order.begin(), order.begin() + owners, node) != order.begin() + owners;
  }
  const storage::NodeRecord* Find(std::string_view id) const {
    for (const auto& n : nodes) {
      if (n.id == id) return &n;
    }
    return nullptr;
  }
  bool SameNodes(const std::vector<storage::NodeRecord>& other) const {
    if (other.size() != nodes.size()) return false;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (other[i].id != nodes[i].id || other[i].url != nodes[i].url) return false;
    }
    return true;
  }
};

}  // namespace

struct TmCluster::Impl {
  storage::ClusterRepository* repo;
  tm::TmService* tm;
  Options options;
  const Clock* clock;
  std::string secret;
  absl::Time started_at;
  bool is_node() const { return !options.node_id.empty(); }

  absl::Mutex mu;
  std::shared_ptr<const View> view ABSL_GUARDED_BY(mu);
  // Stores this node no longer owns whose index it keeps until their new owners hold theirs.
  std::set<std::string> handing_over ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
  absl::CondVar wake;

  std::atomic<int64_t> asks{0}, retries{0}, failures{0}, moves_in{0}, moves_out{0};
  // Nodes that just failed to answer at all (down, unreachable): asked last until then, so that
  // a dead node costs one retry per asker rather than one per lookup until its row expires.
  absl::Mutex suspects_mu;
  std::map<std::string, absl::Time> suspect_until ABSL_GUARDED_BY(suspects_mu);
  // The heartbeat and membership every `heartbeat`; on a node, a second thread moves indexes
  // (building one can take seconds, which must not delay a heartbeat).
  std::thread beats, moves;
  std::unique_ptr<resilience::Retrier> retrier;  // made with `clock`

  // One round of Ask: the store's owners, then the other nodes, once each.
  absl::StatusOr<std::string> AskRound(std::string_view store_id, std::string_view method,
                                       const std::string& request);

  std::shared_ptr<const View> CurrentView() {
    absl::MutexLock lock(&mu);
    return view;
  }

  void Beat() {
    const absl::Time now = clock->Now();
    absl::Status s =
        repo->Heartbeat({options.node_id, "tm", options.url, started_at, now + options.expiry});
    if (!s.ok()) log::Warn("cluster.heartbeat", {{"error", s.message()}});
  }

  // Reads the live nodes; a changed set makes a new view (a read that fails keeps the old one).
  void Follow() {
    auto rows = repo->ListNodes();
    if (!rows.ok()) {
      log::Warn("cluster.membership", {{"error", rows.status().message()}});
      return;
    }
    const absl::Time now = clock->Now();
    std::vector<storage::NodeRecord> live;
    for (storage::NodeRecord& n : *rows) {
      if (n.role == "tm" && n.expires_at > now) live.push_back(std::move(n));
    }
    std::shared_ptr<const View> old = CurrentView();
    if (old != nullptr && old->SameNodes(live)) return;
    auto fresh = std::make_shared<const View>(std::move(live), options);
    // Stores this node owned and no longer does keep their index, atomically with the new view:
    // Holds() never says no to a store between the two.
    std::vector<std::string> stores = is_node() ? tm->StoreIds() : std::vector<std::string>{};
    std::string names;
    for (const auto& n : fresh->nodes) StrAppend(&names, names.empty() ? "" : ",", n.id);
    absl::MutexLock lock(&mu);
    if (old != nullptr) {
      for (const std::string& s : stores) {
        if (old->Owns(options.node_id, s) && !fresh->Owns(options.node_id, s)) {
          handing_over.insert(s);
        }
      }
    }
    view = fresh;
    wake.SignalAll();  // moves follow at once
    log::Info("cluster.membership",
              {{"nodes", names}, {"count", static_cast<int64_t>(fresh->nodes.size())}});
  }

  // Builds the index of every store placed here that has none yet (moved here, or created
  // before this node read the log); a store placed back here stops being handed over.
  void BuildOwned() {
    std::shared_ptr<const View> v = CurrentView();
    if (v == nullptr) return;
    for (const tm::TmService::IndexSize& size : tm->IndexSizes()) {
      if (!v->Owns(options.node_id, size.store_id)) continue;
      {
        absl::MutexLock lock(&mu);
        if (stopping) return;
        handing_over.erase(size.store_id);
      }
      if (size.built) continue;
      auto took = tm->Warm(tm::kAnyTenant, size.store_id);
      if (!took.ok()) {
        if (!absl::IsNotFound(took.status())) {
          log::Warn("cluster.build",
                    {{"store", size.store_id}, {"error", took.status().message()}});
        }
        continue;
      }
      ++moves_in;
      log::Info("cluster.store_in", {{"store", size.store_id},
                                     {"ms", absl::ToInt64Milliseconds(took->took)},
                                     {"from", took->from_snapshot ? "snapshot" : "storage"}});
    }
  }

  // Drops the index of each store handed over once every one of its owners holds its own.
  void HandOver() {
    std::shared_ptr<const View> v = CurrentView();
    std::vector<std::string> stores;
    {
      absl::MutexLock lock(&mu);
      stores.assign(handing_over.begin(), handing_over.end());
    }
    if (v == nullptr || stores.empty()) return;
    const std::vector<std::string> known = tm->StoreIds();
    // Per owner, the stores to ask it about.
    std::map<std::string, std::vector<std::string>> by_owner;
    std::vector<std::string> gone;
    for (const std::string& s : stores) {
      if (!std::binary_search(known.begin(), known.end(), s)) {
        gone.push_back(s);  // deleted
        continue;
      }
      std::vector<std::string> order = v->Order(s);
      order.resize(std::min<size_t>(order.size(), static_cast<size_t>(v->replicas)));
      for (const std::string& owner : order) by_owner[owner].push_back(s);
    }
    std::map<std::string, int> ready;  // store -> owners holding it built
    for (const auto& [owner, list] : by_owner) {
      const storage::NodeRecord* node = v->Find(owner);
      if (node == nullptr || owner == options.node_id) continue;
      auto answer = Send(*node, "ready", "", Join(list, "\n"), absl::Seconds(2));
      if (!answer.ok() || answer->status != 200) continue;
      for (std::string_view id : Split(answer->body, '\n')) {
        if (!id.empty()) ++ready[std::string(id)];
      }
    }
    for (const std::string& s : stores) {
      const bool deleted = std::find(gone.begin(), gone.end(), s) != gone.end();
      const int owners = std::min<int>(v->replicas, static_cast<int>(v->nodes.size()));
      if (!deleted && (owners == 0 || ready[s] < owners)) continue;
      {
        absl::MutexLock lock(&mu);
        if (v->Owns(options.node_id, s) || !handing_over.erase(s)) continue;
      }
      tm->DropIndex(s);
      if (!deleted) {
        ++moves_out;
        log::Info("cluster.store_out", {{"store", s}});
      }
    }
  }

  absl::StatusOr<net::HttpResponse> Send(const storage::NodeRecord& node, std::string_view method,
                                         std::string_view store, std::string body,
                                         absl::Duration timeout) {
    net::HttpRequest req;
    req.url = StrCat(node.url, "/internal/tm/", method);
    if (!store.empty()) StrAppend(&req.url, "?store=", store);
    req.headers = {{"Authorization", "Bearer " + secret},
                   {"Content-Type", "application/octet-stream"}};
    req.body = std::move(body);
    req.deadline = absl::Now() + timeout;
    req.accept_encoding = false;
    req.max_response_bytes = 64 << 20;
    return net::Send(req);
  }

  // Runs `round` every `heartbeat` until stopping.
  void Every(const std::function<void()>& round) {
    while (true) {
      {
        absl::MutexLock lock(&mu);
        if (stopping) return;
        wake.WaitWithTimeout(&mu, options.heartbeat);
        if (stopping) return;
      }
      round();
    }
  }
};

absl::StatusOr<std::unique_ptr<TmCluster>> TmCluster::Start(storage::ClusterRepository* repo,
                                                            tm::TmService* tm, Options options,
                                                            const Clock* clock) {
  if (options.replicas < 1) return absl::InvalidArgumentError("tm.replicas: at least 1");
  if (options.virtual_nodes < 1) return absl::InvalidArgumentError("tm.virtual_nodes: at least 1");
  auto impl = std::make_unique<Impl>();
  impl->repo = repo;
  impl->tm = tm;
  impl->options = std::move(options);
  impl->clock = clock;
  impl->started_at = clock->Now();
  impl->retrier = std::make_unique<resilience::Retrier>(clock, 0x7a11);
  VERSO_ASSIGN_OR_RETURN(impl->secret, repo->Setting(kSecretSetting, RandomToken(32)));
  if (impl->is_node()) impl->Beat();
  impl->Follow();
  if (impl->CurrentView() == nullptr) {
    return absl::UnavailableError("cannot read the cluster's membership from the database");
  }
  auto cluster = std::unique_ptr<TmCluster>(new TmCluster(std::move(impl)));
  Impl* i = cluster->impl_.get();
  i->beats = std::thread([i] {
    i->Every([i] {
      if (i->is_node()) i->Beat();
      i->Follow();
    });
  });
  return cluster;
}

TmCluster::TmCluster(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

void TmCluster::BeginMoves() {
  Impl* i = impl_.get();
  if (!i->is_node() || i->moves.joinable()) return;
  i->moves = std::thread([i] {
    i->BuildOwned();
    i->HandOver();
    i->Every([i] {
      i->BuildOwned();
      i->HandOver();
    });
  });
}

TmCluster::~TmCluster() {
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.SignalAll();
  if (impl_->beats.joinable()) impl_->beats.join();
  if (impl_->moves.joinable()) impl_->moves.join();
  if (impl_->is_node()) {
    absl::Status left = impl_->repo->RemoveNode(impl_->options.node_id);
    if (!left.ok()) log::Warn("cluster.leave", {{"error", left.message()}});
  }
}

bool TmCluster::Holds(std::string_view store_id) {
  if (!impl_->is_node()) return false;
  absl::MutexLock lock(&impl_->mu);
  if (impl_->handing_over.contains(std::string(store_id))) return true;
  return impl_->view != nullptr && impl_->view->Owns(impl_->options.node_id, store_id);
}

absl::StatusOr<std::string> TmCluster::Ask(std::string_view store_id, std::string_view method,
                                           const std::string& request) {
  // A round asks every node; when none could answer (all down, or the store's holders all
  // building), rounds repeat per the spec's TM lookup policy (3 more, 100/200/400 ms ± 50 ms).
  std::string answer;
  resilience::RetryResult r = impl_->retrier->Run(
      resilience::TmLookupRetryPolicy(), impl_->clock->Now() + impl_->options.ask_timeout,
      [&](int) -> absl::Status {
        absl::StatusOr<std::string> round = impl_->AskRound(store_id, method, request);
        if (!round.ok()) return round.status();
        answer = std::move(*round);
        return absl::OkStatus();
      },
      [](const absl::Status& s) { return absl::IsUnavailable(s); });
  if (!r.status.ok()) {
    if (absl::IsUnavailable(r.status)) ++impl_->failures;
    return r.status;
  }
  return answer;
}

absl::StatusOr<std::string> TmCluster::Impl::AskRound(std::string_view store_id,
                                                      std::string_view method,
                                                      const std::string& request) {
  std::shared_ptr<const View> v = CurrentView();
  std::string last = "no TM node is up (verso serve --roles tm)";
  std::vector<std::string> order = v->Order(store_id);
  {
    // Suspects last, the rest in ring order.
    const absl::Time now = absl::Now();
    std::set<std::string> suspects;
    {
      absl::MutexLock lock(&suspects_mu);
      for (const auto& [id, until] : suspect_until) {
        if (until > now) suspects.insert(id);
      }
    }
    std::stable_partition(order.begin(), order.end(),
                          [&](const std::string& id) { return !suspects.contains(id); });
  }
  for (const std::string& id : order) {
    if (id == options.node_id) continue;
    const storage::NodeRecord* node = v->Find(id);
    ++asks;
    auto r = Send(*node, method, store_id, request,
                  method == "lookup" ? options.lookup_timeout : options.ask_timeout);
    if (r.ok() && r->status == 200 && !r->truncated) return std::move(r->body);
    if (r.ok() && r->status == 404) {
      return absl::NotFoundError(StrCat("TM store ", store_id, " not found"));
    }
    if (r.ok() && r->status == 400) {
      return absl::InternalError(StrCat("TM node ", id, " refused a request: ", r->body));
    }
    // Down, not holding the store (yet, or any more), overloaded: the next node may answer.
    last =
        r.ok() ? StrCat("node ", id, " answered ", r->status) : std::string(r.status().message());
    ++retries;
    if (!r.ok()) {
      absl::MutexLock lock(&suspects_mu);
      suspect_until[id] = absl::Now() + std::min(options.expiry, absl::Seconds(2));
    }
  }
  return absl::UnavailableError(
      StrCat("no TM node could answer for store ", store_id, " (last: ", last, ")"));
}

const std::string& TmCluster::secret() const { return impl_->secret; }

bool TmCluster::Authorized(std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization.starts_with(kBearer)) return false;
  return ConstantTimeEquals(authorization.substr(kBearer.size()), impl_->secret);
}

Stats TmCluster::GetStats() {
  std::shared_ptr<const View> v = impl_->CurrentView();
  Stats s;
  s.nodes = v->nodes;
  if (impl_->is_node()) {
    for (const tm::TmService::IndexSize& size : impl_->tm->IndexSizes()) {
      if (!v->Owns(impl_->options.node_id, size.store_id)) continue;
      ++s.stores_owned;
      if (!size.built) ++s.stores_warming;
    }
    absl::MutexLock lock(&impl_->mu);
    s.stores_held = s.stores_owned + static_cast<int64_t>(impl_->handing_over.size());
  }
  s.asks = impl_->asks;
  s.retries = impl_->retries;
  s.failures = impl_->failures;
  s.moves_in = impl_->moves_in;
  s.moves_out = impl_->moves_out;
  return s;
}

}  // namespace verso::cluster
