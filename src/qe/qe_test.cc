#include "qe/qe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

TEST(QeTest, Placeholder) {}
