-- `tgm-sync report`: the bots the warehouse holds data for (the view `known_bots`).
SELECT bot_id FROM known_bots ORDER BY bot_id;
