package route53

import (
	"net/http"

	"github.com/switchboard/switchboard/internal/model"
)

// Tags are not stored: the model has no place for them. Listing answers
// an empty set for a resource that exists, so that tools which read tags
// after every create (Terraform, external-dns) work; adding tags is refused.

// tagged checks that resource id of type typ exists in s.
func tagged(s *model.State, typ, id string) error {
	switch typ {
	case "hostedzone":
		if findZone(s, id) < 0 {
			return noSuchZone(id)
		}
	case "healthcheck":
		if findCheck(s, bareID(id)) < 0 {
			return noSuchCheck(bareID(id))
		}
	default:
		return invalidInput("ResourceType %q: hostedzone or healthcheck", typ)
	}
	return nil
}

func (h *Handler) listTagsForResource(rq *request) error {
	head, err := h.st.Head(rq.r.Context())
	if err != nil {
		return err
	}
	typ, id := rq.r.PathValue("type"), bareID(rq.r.PathValue("id"))
	if err := tagged(head.State, typ, id); err != nil {
		return err
	}
	return rq.reply(http.StatusOK, listTagsForResourceResponse{ResourceTagSet: xmlResourceTagSet{ResourceType: typ, ResourceID: id}})
}

func (h *Handler) listTagsForResources(rq *request) error {
	var in listTagsForResourcesRequest
	if err := rq.decode(&in); err != nil {
		return err
	}
	head, err := h.st.Head(rq.r.Context())
	if err != nil {
		return err
	}
	typ := rq.r.PathValue("type")
	out := listTagsForResourcesResponse{ResourceTagSets: []xmlResourceTagSet{}}
	for _, id := range in.ResourceIDs {
		if err := tagged(head.State, typ, bareID(id)); err != nil {
			return err
		}
		out.ResourceTagSets = append(out.ResourceTagSets, xmlResourceTagSet{ResourceType: typ, ResourceID: bareID(id)})
	}
	return rq.reply(http.StatusOK, out)
}

func (h *Handler) changeTagsForResource(rq *request) error {
	var in changeTagsForResourceRequest
	if err := rq.decode(&in); err != nil {
		return err
	}
	head, err := h.st.Head(rq.r.Context())
	if err != nil {
		return err
	}
	if err := tagged(head.State, rq.r.PathValue("type"), bareID(rq.r.PathValue("id"))); err != nil {
		return err
	}
	if len(in.AddTags) > 0 {
		return invalidInput("tags are not stored by switchboard; put what they say in the hosted zone's comment")
	}
	return rq.reply(http.StatusOK, changeTagsForResourceResponse{}) // removing tags that do not exist
}
