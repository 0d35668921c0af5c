import Witchbolt
