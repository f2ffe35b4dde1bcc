// Compiles micro/broker.h on its own: it must include everything it uses.
#include "micro/broker.h"
