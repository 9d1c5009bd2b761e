# Placeholder of the cg-use-everywhere pack for the demo: only the registration a scanner reads.
# (The real pack lives at https://github.com/chrisgoringe/cg-use-everywhere.)


class AnythingEverywhere:
    pass


class AnythingEverywherePrompts:
    pass


class AnythingEverywhere3:
    pass


NODE_CLASS_MAPPINGS = {
    "Anything Everywhere": AnythingEverywhere,
    "Prompts Everywhere": AnythingEverywherePrompts,
    "Anything Everywhere3": AnythingEverywhere3,
}
