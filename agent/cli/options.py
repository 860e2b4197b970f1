"""Help for the critic options every command takes, written once."""
from __future__ import annotations

CRITIC_OPTION_HELP = ("a setting of the critic, repeatable: hf: mode=vqa|judge, device, dtype, threshold, "
                      "localise=auto|on|off; openai: mode=judge|vqa, timeout, image_side, ... (an unknown key "
                      "names the critic's known ones)")
LOCALISER_HELP = ("hf:PATH_OR_ID: an open-vocabulary detector (OWLv2, Grounding DINO) or a VLM with <loc> "
                  "tokens, for the regions of failing requirements")
ALLOW_FRESH_HELP = ("with --image: let the agent start over with fresh images (txt2img); without it every image "
                    "descends from your picture")
