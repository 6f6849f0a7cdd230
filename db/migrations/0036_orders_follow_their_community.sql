-- An order's community (`service_orders.community_id`: the `communityId` filter of order
-- lists, the community whose confirmed pairings may take the order) is its household's, as
-- `placeOrder` writes it. 0035 moved an order's building with its household when an import
-- moves the household to another building, but not its community: after a move into another
-- community, that community's staff saw the order (visibility reads the building) and its
-- `communityId` filter did not find it, while the old community's filter still did. The
-- community now moves with the building: the third area of its path, as `placeOrder` reads
-- the household's (`area_level_parents`, 0001: a community stands under a town, under the
-- county).

CREATE OR REPLACE FUNCTION household_orders_follow() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE service_orders
    SET building_id = NEW.building_id,
        community_id = (SELECT b.path[3] FROM areas b WHERE b.id = NEW.building_id)
    WHERE household_id = NEW.id;
    RETURN NULL;
END
$$;
