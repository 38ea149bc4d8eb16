#include "api/admission.h"

#include <map>
#include <utility>

namespace verso::api {

Admission::Entry Admission::Enter(std::string tenant, absl::Time now, std::function<void()> wake) {
  auto ticket = std::make_shared<Ticket>();
  ticket->tenant = std::move(tenant);
  ticket->enqueued = now;
  ticket->wake = std::move(wake);
  std::shared_ptr<Ticket> shed;
  {
    absl::MutexLock lock(&mu_);
    if (running_ < options_.slots) {
      ++running_;
      ++admitted_;
      ticket->outcome = Outcome::kRun;
      return {ticket, Outcome::kRun};
    }
    if (options_.queue <= 0) {
      ++shed_full_;
      ticket->outcome = Outcome::kShedFull;
      return {ticket, Outcome::kShedFull};
    }
    if (static_cast<int>(queue_.size()) >= options_.queue) {
      // The tenant with the most waiting requests, the new one counted; its oldest waiter goes.
      std::map<std::string_view, int> waiting;
      for (const auto& t : queue_) ++waiting[t->tenant];
      ++waiting[ticket->tenant];
      std::string_view heaviest;
      int most = 0;
      for (const auto& [name, n] : waiting) {
        if (n > most) most = n, heaviest = name;
      }
      auto victim = queue_.begin();
      while (victim != queue_.end() && (*victim)->tenant != heaviest) ++victim;
      if (victim == queue_.end()) {  // only the newcomer is of that tenant: it is shed
        ++shed_full_;
        ticket->outcome = Outcome::kShedFull;
        return {ticket, Outcome::kShedFull};
      }
      shed = *victim;
      queue_.erase(victim);
      shed->outcome = Outcome::kShedFull;
      ++shed_full_;
    }
    queue_.push_back(ticket);
  }
  if (shed != nullptr && shed->wake) shed->wake();
  return {ticket, Outcome::kQueued};
}

Admission::Outcome Admission::Settle(const std::shared_ptr<Ticket>& ticket) {
  absl::MutexLock lock(&mu_);
  if (ticket->outcome == Outcome::kQueued) {
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (*it == ticket) {
        queue_.erase(it);
        break;
      }
    }
    ticket->outcome = Outcome::kShedWait;
    ++shed_wait_;
  }
  return ticket->outcome;
}

void Admission::Leave() {
  std::shared_ptr<Ticket> next;
  {
    absl::MutexLock lock(&mu_);
    if (queue_.empty()) {
      --running_;
      return;
    }
    next = std::move(queue_.front());  // the slot passes on: running_ stays
    queue_.pop_front();
    next->outcome = Outcome::kRun;
    ++admitted_;
  }
  if (next->wake) next->wake();
}

void Admission::Close() {
  absl::MutexLock lock(&mu_);
  for (const auto& ticket : queue_) {
    ticket->outcome = Outcome::kShedWait;
    ticket->wake = nullptr;
  }
  queue_.clear();
}

Admission::Stats Admission::GetStats() const {
  absl::MutexLock lock(&mu_);
  return {running_, static_cast<int>(queue_.size()), admitted_, shed_full_, shed_wait_};
}

}  // namespace verso::api
